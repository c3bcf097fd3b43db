/// <reference types="vitest/config" />
import { fileURLToPath, URL } from 'node:url';
import { defineConfig, type Plugin } from 'vite';
import vue from '@vitejs/plugin-vue';
import Components from 'unplugin-vue-components/vite';
import { ElementPlusResolver } from 'unplugin-vue-components/resolvers';
import type { ComponentInfo, ComponentResolver } from 'unplugin-vue-components/types';
import { mockMiddleware } from './mock/api';
import { readdirSync, readFileSync, existsSync } from 'node:fs';

// Element Plus per component. The stock resolver imports from `element-plus/es`, whose root module
// builds the full installer at load time, so the whole library ends up in the bundle; here each
// name is imported from the component folder that exports it.
function elementPlusPerComponent(): ComponentResolver[] {
  const root = fileURLToPath(new URL('./node_modules/element-plus/es/components/', import.meta.url));
  const where = new Map<string, string>();
  for (const dir of readdirSync(root)) {
    const index = `${root}${dir}/index.mjs`;
    if (!existsSync(index)) continue;
    for (const m of readFileSync(index, 'utf8').matchAll(/export\s*\{([^}]*)\}/g)) {
      for (const part of m[1]!.split(',')) {
        const name = part.trim().split(/\s+as\s+/).pop()!.trim();
        if (name.startsWith('El') && !where.has(name)) where.set(name, dir);
      }
    }
  }
  const stock = ElementPlusResolver({ importStyle: 'css' });
  const resolve = async (name: string, type: 'component' | 'directive'): Promise<ComponentInfo | undefined> => {
    const r = await (stock as { resolve: (n: string) => unknown }[])[type === 'component' ? 0 : 1]!.resolve(name);
    if (!r || typeof r !== 'object' || !('from' in r)) return undefined;
    const x = r as ComponentInfo;
    const dir = x.name ? where.get(x.name) : undefined;
    return dir && x.from === 'element-plus/es' ? { ...x, from: `element-plus/es/components/${dir}/index.mjs` } : x;
  };
  return [
    { type: 'component' as const, resolve: (n: string) => resolve(n, 'component') },
    { type: 'directive' as const, resolve: (n: string) => resolve(n, 'directive') },
  ];
}

// `npm run dev:mock`: the admin API answered in memory (mock/api.ts) while the real one is built.
function mockApi(): Plugin {
  return {
    name: 'livegate-console-mock-api',
    configureServer(server) {
      server.middlewares.use(mockMiddleware());
    },
  };
}

export default defineConfig({
  base: '/admin/',
  plugins: [
    vue(),
    // Element Plus on demand: only the components the templates use, with their CSS.
    Components({ resolvers: [elementPlusPerComponent()], dts: false }),
    ...(process.env.LIVEGATE_CONSOLE_MOCK ? [mockApi()] : []),
  ],
  resolve: { alias: { '@': fileURLToPath(new URL('./src', import.meta.url)) } },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2020',
    sourcemap: false,
    // No inline scripts: the server's CSP allows scripts from 'self' only.
    modulePreload: { polyfill: false },
    chunkSizeWarningLimit: 800,
    rollupOptions: {
      output: {
        manualChunks(id) {
          if (/node_modules\/(vue|@vue|vue-router|pinia|vue-i18n|@intlify)\//.test(id)) return 'vue';
          return undefined;
        },
      },
    },
  },
  server: {
    // `npm run dev` against a local `livegate serve` (override with LIVEGATE_URL).
    proxy: process.env.LIVEGATE_CONSOLE_MOCK
      ? undefined
      : { '/admin/api': { target: process.env.LIVEGATE_URL ?? 'http://127.0.0.1:8000', changeOrigin: true } },
  },
  test: {
    projects: [
      {
        extends: true,
        test: { name: 'unit', include: ['test/**/*.test.ts'], environment: 'happy-dom' },
      },
      {
        extends: true,
        test: {
          name: 'e2e',
          include: ['e2e/**/*.test.ts'],
          environment: 'node',
          testTimeout: 180_000,
          hookTimeout: 180_000,
          pool: 'forks',
          poolOptions: { forks: { singleFork: true } },
        },
      },
    ],
  },
});
