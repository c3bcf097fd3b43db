// The page's budget: at most 150 KB gzip of all JS and CSS in dist/assets (npm test builds first).
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';

const DIST = fileURLToPath(new URL('../dist/', import.meta.url));
const BUDGET = 150 * 1024;

describe('the built page', () => {
  it('exists (run `npm run build`)', () => {
    expect(existsSync(`${DIST}index.html`)).toBe(true);
  });

  it(`fits ${BUDGET / 1024} KB gzip of JS and CSS`, () => {
    const files = readdirSync(`${DIST}assets`).filter((f) => /\.(js|css)$/.test(f));
    expect(files.some((f) => f.endsWith('.js'))).toBe(true);
    let total = 0;
    for (const f of files) total += gzipSync(readFileSync(`${DIST}assets/${f}`), { level: 9 }).length;
    console.log(`dist/assets: ${files.length} JS/CSS files, ${(total / 1024).toFixed(1)} KB gzip (budget ${BUDGET / 1024} KB)`);
    expect(total).toBeLessThanOrEqual(BUDGET);
  });

  it('loads nothing from elsewhere: no remote URLs, no inline script', () => {
    const html = readFileSync(`${DIST}index.html`, 'utf8');
    expect(html).toContain('/h5/assets/');
    expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/);
    expect(html).not.toMatch(/(src|href)="(https?:)?\/\//);
    for (const f of readdirSync(`${DIST}assets`)) {
      const text = readFileSync(`${DIST}assets/${f}`, 'utf8');
      expect(text, f).not.toMatch(/@import\s+url\(\s*['"]?https?:/);
      expect(text, f).not.toMatch(/url\(\s*['"]?https?:\/\//);
      expect(text, f).not.toMatch(/import\s*\(\s*['"]https?:/);
    }
  });
});
