// Formatting helpers shared by the views (pure, unit-tested).
import type { Lang, Page } from './http';

/** An RFC 3339 time in the browser's zone, `YYYY-MM-DD HH:mm:ss`; '-' for none. */
export function formatTime(iso: string | null | undefined): string {
  if (!iso) return '-';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

/** Milliseconds as `850 ms`, `3.2 s`, `2 min 5 s`. */
export function formatDuration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return '-';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const s = Math.round(ms / 1000);
  return `${Math.floor(s / 60)} min ${s % 60} s`;
}

/** A ratio (0..1) as a percentage with one decimal. */
export function formatPercent(ratio: number | null | undefined): string {
  if (ratio === null || ratio === undefined || !Number.isFinite(ratio)) return '-';
  return `${(ratio * 100).toFixed(1)}%`;
}

/** A score with up to 3 decimals. */
export function formatScore(v: unknown): string {
  if (typeof v !== 'number' || !Number.isFinite(v)) return v === null || v === undefined ? '-' : String(v);
  return String(Math.round(v * 1000) / 1000);
}

/** A local date-time picker's value as RFC 3339 UTC (the API's times). */
export function toRfc3339(d: Date | string | number | null | undefined): string | undefined {
  if (d === null || d === undefined || d === '') return undefined;
  const date = d instanceof Date ? d : new Date(d);
  if (Number.isNaN(date.getTime())) return undefined;
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** The last `days` days up to now, for date-range defaults. */
export function lastDays(days: number, now = new Date()): [Date, Date] {
  return [new Date(now.getTime() - days * 86_400_000), now];
}

/** A dictionary entry's label in a language (each language falls back to the other, then the code). */
export function dictLabel(
  entries: { value: string; label_zh?: string; label_en?: string }[] | undefined,
  value: string | null | undefined,
  lang: Lang,
): string {
  if (value === null || value === undefined || value === '') return '-';
  const e = entries?.find((x) => x.value === value);
  if (!e) return value;
  return (lang === 'en' ? e.label_en || e.label_zh : e.label_zh || e.label_en) || value;
}

/** The items of a list answer, whether paged (`{items}`) or a bare array. */
export function itemsOf<T>(x: Page<T> | T[] | null | undefined): T[] {
  if (!x) return [];
  return Array.isArray(x) ? x : (x.items ?? []);
}

/** A CSV/Excel export's file name when the server gives none. */
export function exportName(format: 'csv' | 'xlsx', now = new Date()): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `records-${now.getFullYear()}${p(now.getMonth() + 1)}${p(now.getDate())}-${p(now.getHours())}${p(now.getMinutes())}.${format}`;
}
