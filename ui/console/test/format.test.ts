import { describe, expect, it } from 'vitest';
import { dictLabel, exportName, formatDuration, formatPercent, formatScore, formatTime, itemsOf, lastDays, toRfc3339 } from '../src/utils/format';

describe('formatting helpers', () => {
  it('shows RFC 3339 times in the browser zone', () => {
    const iso = '2026-11-25T08:00:05Z';
    const d = new Date(iso);
    const p = (n: number) => String(n).padStart(2, '0');
    expect(formatTime(iso)).toBe(`${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:00:05`);
    expect(formatTime(null)).toBe('-');
    expect(formatTime('not a time')).toBe('not a time');
  });

  it('sends local picks as RFC 3339 UTC without milliseconds', () => {
    expect(toRfc3339(new Date(Date.UTC(2026, 10, 25, 8, 0, 0, 123)))).toBe('2026-11-25T08:00:00Z');
    expect(toRfc3339(undefined)).toBeUndefined();
    expect(toRfc3339('garbage')).toBeUndefined();
    const [from, to] = lastDays(7, new Date('2026-11-25T00:00:00Z'));
    expect(toRfc3339(from)).toBe('2026-11-18T00:00:00Z');
    expect(toRfc3339(to)).toBe('2026-11-25T00:00:00Z');
  });

  it('formats durations, rates and scores', () => {
    expect([formatDuration(850), formatDuration(3240), formatDuration(125_000), formatDuration(null)]).toEqual(['850 ms', '3.2 s', '2 min 5 s', '-']);
    expect([formatPercent(0.8734), formatPercent(1), formatPercent(null)]).toEqual(['87.3%', '100.0%', '-']);
    expect([formatScore(0.123456), formatScore(1), formatScore(null), formatScore('n/a')]).toEqual(['0.123', '1', '-', 'n/a']);
  });

  it('labels dictionary codes in the console language, falling back to the code', () => {
    // The server's DictItem shape (docs/admin-api.md): label_zh and label_en.
    const reasons = [{ value: 'face_mismatch', label_zh: '人脸比对不一致', label_en: 'Face mismatch' }, { value: 'x', label_zh: '仅中文', label_en: '' }, { value: 'y', label_en: 'English only' }];
    expect(dictLabel(reasons, 'face_mismatch', 'zh-CN')).toBe('人脸比对不一致');
    expect(dictLabel(reasons, 'face_mismatch', 'en')).toBe('Face mismatch');
    expect(dictLabel(reasons, 'x', 'en')).toBe('仅中文');
    expect(dictLabel(reasons, 'y', 'zh-CN')).toBe('English only');
    expect(dictLabel(reasons, 'unknown_code', 'zh-CN')).toBe('unknown_code');
    expect(dictLabel(undefined, null, 'en')).toBe('-');
  });

  it('reads lists paged or bare, and names exports', () => {
    expect(itemsOf({ items: [1, 2], total: 2, offset: 0, limit: 20 })).toEqual([1, 2]);
    expect(itemsOf([3])).toEqual([3]);
    expect(itemsOf(null)).toEqual([]);
    expect(exportName('xlsx', new Date(2026, 10, 25, 9, 7))).toBe('records-20261125-0907.xlsx');
  });
});
