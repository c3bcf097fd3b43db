/// <reference types="vitest/config" />
import { defineConfig } from 'vite';

export default defineConfig({
  base: '/h5/',
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: ['es2020', 'safari14', 'chrome80'],
    assetsInlineLimit: 0,
    // No inline scripts: the server's CSP allows scripts from 'self' only.
    modulePreload: { polyfill: false },
    sourcemap: false,
  },
  server: {
    // `npm run dev` against a local `livegate serve` (default port 8080; override with LIVEGATE_URL).
    proxy: {
      '/h5/v1': { target: process.env.LIVEGATE_URL ?? 'http://127.0.0.1:8080', ws: true, changeOrigin: true },
    },
  },
  test: {
    projects: [
      { extends: true, test: { name: 'unit', include: ['test/**/*.test.ts'], environment: 'node' } },
      {
        extends: true,
        test: { name: 'e2e', include: ['e2e/**/*.test.ts'], environment: 'node', testTimeout: 120_000, hookTimeout: 180_000, pool: 'forks', poolOptions: { forks: { singleFork: true } } },
      },
    ],
  },
});
