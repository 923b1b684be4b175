import { fileURLToPath } from 'node:url';
import path from 'node:path';
import react from '@vitejs/plugin-react';
import { defineConfig, type UserConfig } from 'vite';

const rendererRoot = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.resolve(rendererRoot, '../..');

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
    outDir: path.join(repoRoot, 'out/renderer'),
    emptyOutDir: true,
    target: 'es2022',
    // No inline module preload polyfill: it would need 'unsafe-inline' under the CSP.
    modulePreload: { polyfill: false },
    chunkSizeWarningLimit: 1500,
  },
};

export default defineConfig(rendererConfig);
