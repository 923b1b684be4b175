import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'electron-vite';
import { rendererConfig } from './desktop/renderer/vite.config.ts';

const root = path.dirname(fileURLToPath(import.meta.url));

/**
 * `electron-vite build` writes out/main (ESM, the package's "main"), out/preload/index.cjs and out/renderer.
 * - main: dependencies stay external (node_modules ships inside the app; the AWS SDK and pino are not bundled).
 * - preload: one CommonJS file with nothing external but electron, because a sandboxed preload can only
 *   require('electron'); it imports no runtime code from shared/ (channels.ts is zod-free) so it stays tiny.
 * - renderer: the renderer's own vite config (desktop/renderer/vite.config.ts), so `tiercast console --web`
 *   and the desktop app serve the same build.
 */
export default defineConfig({
  main: {
    build: {
      outDir: path.join(root, 'out/main'),
      target: 'node22',
      externalizeDeps: true,
      sourcemap: true,
      rollupOptions: {
        input: { index: path.join(root, 'desktop/main/index.ts') },
        output: { format: 'es', entryFileNames: '[name].js' },
      },
    },
  },
  preload: {
    build: {
      outDir: path.join(root, 'out/preload'),
      externalizeDeps: false,
      minify: false,
      rollupOptions: {
        input: { index: path.join(root, 'desktop/preload/index.ts') },
        external: ['electron'],
        output: { format: 'cjs', entryFileNames: '[name].cjs', inlineDynamicImports: true },
      },
    },
  },
  renderer: {
    ...rendererConfig,
    build: {
      ...rendererConfig.build,
      rollupOptions: {
        ...rendererConfig.build?.rollupOptions,
        input: { index: path.join(root, 'desktop/renderer/index.html') },
      },
    },
  },
});
