// The scene rules form keeps what it does not show and leaves out what was left empty.
import { describe, expect, it } from 'vitest';
import { FormJsonError, formFieldOf, fromForm, toForm } from '../src/views/scenes/rules';

describe('scene rules form', () => {
  it('round-trips the documented example, unknown fields included', () => {
    const rules = {
      modes: ['action'],
      actions: { pool: ['blink', 'nod'], count: 2 },
      timeouts: { link_s: 600, step_s: 10, session_s: 60 },
      retries: 1,
      thresholds: { min_face_ratio: 0.2 },
      callback: { url: 'https://bank.example/cb', secret: '***' },
      return_urls: ['https://bank.example/return'],
      evidence: { retention_days: 180, sampled_frames: 3 },
      recording: { enabled: true, max_mb: 20 },
      capture: { width: 480, height: 640, jpeg_quality: 0.8, min_fps: 8, max_fps: 15 },
      compare: { engine: 'builtin' },
      fallback: { order: ['realtime_action', 'recording'] },
    };
    expect(fromForm(toForm(rules))).toEqual(rules);
  });

  it('sends {} for an untouched form, so every default applies', () => {
    expect(fromForm(toForm({}))).toEqual({});
    const f = toForm({});
    f.count = 1;
    f.pool = ['blink'];
    expect(fromForm(f)).toEqual({ actions: { pool: ['blink'], count: 1 } });
  });

  it('names the field whose JSON does not parse', () => {
    const f = toForm({});
    f.thresholds = '{min_face_ratio: }';
    expect(() => fromForm(f)).toThrow(FormJsonError);
    try {
      fromForm(f);
    } catch (e) {
      expect((e as FormJsonError).field).toBe('thresholds');
    }
  });

  it('maps the server field of an error to the form field showing it', () => {
    expect(formFieldOf('actions.count')).toBe('count');
    expect(formFieldOf('config.timeouts.step_s')).toBe('step_s');
    expect(formFieldOf('return_urls[3]')).toBe('return_urls');
    expect(formFieldOf('thresholds.min_face_ratio')).toBe('thresholds');
    expect(formFieldOf('compare.http.url')).toBe('advanced');
    expect(formFieldOf('code')).toBe('code');
    expect(formFieldOf(undefined)).toBeNull();
  });
});

describe('fallback default order', () => {
  it("is the scene's real-time modes, then a recording when the scene takes one (as the server)", async () => {
    const { defaultOrder } = await import('../src/views/fallback/rules');
    expect(defaultOrder({})).toEqual(['action']);
    expect(defaultOrder({ modes: ['colour', 'action'], recording: { enabled: true } })).toEqual(['action', 'recording']);
    expect(defaultOrder({ modes: ['silent'], recording: { enabled: false } })).toEqual(['silent']);
  });
});
