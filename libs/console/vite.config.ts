import { defineConfig } from 'vite';

/**
 * The console is a plain static build the gateway serves under /ui: hashed files in assets/,
 * no source maps and no module-preload polyfill (an inline script the page's CSP would refuse).
 * JSX is compiled by Vite itself (React's automatic runtime); no dev server is used.
 */
export default defineConfig({
  base: '/ui/',
  logLevel: 'warn',
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    sourcemap: false,
    modulePreload: { polyfill: false },
    chunkSizeWarningLimit: 1000,
    rolldownOptions: {
      // SWR marks its modules 'use client' for React Server Components; a SPA has none.
      onwarn(warning, warn) {
        if (warning.code !== 'MODULE_LEVEL_DIRECTIVE') warn(warning);
      },
    },
  },
});
