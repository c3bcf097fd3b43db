// Dictionary data cached per type: the drop-downs' options and the labels of codes.
import { defineStore } from 'pinia';
import { listData, type DictData } from '@/api/system/dict';
import { dictLabel, itemsOf } from '@/utils/format';
import { currentLang } from '@/locales';

export const useDictStore = defineStore('dict', {
  state: () => ({ data: {} as Record<string, DictData[]>, loading: {} as Record<string, Promise<void>> }),
  actions: {
    /** Loads a type once (a type the server lacks leaves the raw codes shown). */
    load(type: string): Promise<void> {
      if (!this.loading[type]) {
        this.loading[type] = listData(type, true)
          .then((r) => {
            this.data[type] = itemsOf(r).slice().sort((a, b) => (a.sort ?? 0) - (b.sort ?? 0));
          })
          .catch(() => {
            this.data[type] = [];
          });
      }
      return this.loading[type]!;
    },
    label(type: string, value: string | null | undefined): string {
      return dictLabel(this.data[type], value, currentLang());
    },
    options(type: string): { value: string; label: string }[] {
      return (this.data[type] ?? []).map((d) => ({ value: d.value, label: dictLabel([d], d.value, currentLang()) }));
    },
    /** Forget a type after it was edited. */
    invalidate(type: string) {
      delete this.loading[type];
      delete this.data[type];
    },
  },
});
