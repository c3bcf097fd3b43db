// vue-i18n with the console's messages; Element Plus's own locale follows the same language.
import { createI18n } from 'vue-i18n';
import zhEl from 'element-plus/es/locale/lang/zh-cn';
import enEl from 'element-plus/es/locale/lang/en';
import zhCN from './zh-CN';
import en from './en';
import type { Lang } from '@/utils/http';

export const LANGS: { value: Lang; label: string }[] = [
  { value: 'zh-CN', label: '简体中文' },
  { value: 'en', label: 'English' },
];

const STORAGE_KEY = 'livegate-console-lang';

export function initialLang(): Lang {
  const saved = typeof localStorage === 'undefined' ? null : localStorage.getItem(STORAGE_KEY);
  return saved === 'en' ? 'en' : 'zh-CN';
}

export const i18n = createI18n({
  legacy: false,
  locale: initialLang(),
  fallbackLocale: 'zh-CN',
  messages: { 'zh-CN': zhCN, en },
});

/** Element Plus's messages for a language (ElConfigProvider). */
export function elementLocale(lang: Lang) {
  return lang === 'en' ? enEl : zhEl;
}

export function setLang(lang: Lang): void {
  i18n.global.locale.value = lang;
  localStorage.setItem(STORAGE_KEY, lang);
  document.documentElement.lang = lang;
}

export function currentLang(): Lang {
  return i18n.global.locale.value as Lang;
}
