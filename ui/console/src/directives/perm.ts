// `v-perm="'scenes:write'"` (or a list: any of them) removes an element the user may not use,
// as RuoYi's v-hasPermi does: a button that would only answer 403 is not shown at all.
import type { Directive } from 'vue';

export type PermValue = string | string[];

export function createPermDirective(can: (perms: PermValue) => boolean): Directive<HTMLElement, PermValue> {
  return {
    mounted(el, binding) {
      const v = binding.value;
      if (!v || (Array.isArray(v) && v.length === 0)) throw new Error('v-perm needs a permission, e.g. v-perm="\'scenes:write\'"');
      if (!can(v)) el.parentNode?.removeChild(el);
    },
  };
}
