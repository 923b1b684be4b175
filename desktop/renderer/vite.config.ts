import react from '@vitejs/plugin-react';
import { defineConfig, type UserConfig } from 'vite';

/**
 * Folders from this file's URL without node:path/node:url: the renderer's folder may not import Node (the
 * layering test holds vite.config.ts to that too). Vite keeps import.meta.url pointing here when it bundles the config.
 */
function dirOf(relative: string): string {
  const p = decodeURIComponent(new URL(relative, import.meta.url).pathname).replace(/\/$/, '');
  return p.replace(/^\/([A-Za-z]:)/, '$1');
}
const rendererRoot = dirOf('./');
const repoRoot = dirOf('../../');

/**
 * The renderer's build, shared by `tiercast console --web` (plain vite build) and electron.vite.config.ts
 * (which imports `rendererConfig`). base './' so the same files load from file:// in Electron and from
 * the web transport's root.
 */
export const rendererConfig: UserConfig = {
  root: rendererRoot,
  base: './',
  plugins: [react()],
  // The renderer imports shared/common from outside its root.
  server: { fs: { allow: [repoRoot] } },
  build: {
    outDir: `${repoRoot}/out/renderer`,
    emptyOutDir: true,
    target: 'es2022',
    // No inline module preload polyfill: it would need 'unsafe-inline' under the CSP.
    modulePreload: { polyfill: false },
    chunkSizeWarningLimit: 1500,
    rollupOptions: {
      onwarn(warning, warn) {
        // zod 4 places @__PURE__ comments where Rollup cannot use them; Rollup drops them harmlessly. Our own code
        // still warns.
        if (warning.code === 'INVALID_ANNOTATION' && warning.id?.includes('/node_modules/')) return;
        warn(warning);
      },
    },
  },
};

export default defineConfig(rendererConfig);
