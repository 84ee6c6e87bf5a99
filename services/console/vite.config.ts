import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

// Sources (index.html included) live under src/ so the repo's bootstrap notices every change;
// the build lands in dist/, which @authz/config serves under /console/.
export default defineConfig({
  root: fileURLToPath(new URL('./src', import.meta.url)),
  base: '/console/',
  esbuild: { jsx: 'automatic', jsxImportSource: 'preact' },
  build: {
    outDir: fileURLToPath(new URL('./dist', import.meta.url)),
    emptyOutDir: true,
    target: 'es2022',
    // The page must work offline and under a strict CSP: no inlined scripts or data-URL modules.
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    chunkSizeWarningLimit: 1024,
  },
});
