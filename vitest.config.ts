import { defineConfig } from 'vitest/config';

// Two projects: `unit` (pure and fast) and `slow` (real ffmpeg, s3rver, fauxqs, Chromium).
// Both run in `npm test`; `slow` files are named *.slow.test.ts so they can be run apart.
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/**/*.test.ts', 'test/**/*.test.tsx'],
          exclude: ['test/**/*.slow.test.ts', 'node_modules/**'],
          environment: 'node',
          testTimeout: 20_000,
          // Projects with different worker limits need their own group: unit runs first, then slow.
          sequence: { groupOrder: 0 },
        },
      },
      {
        test: {
          name: 'slow',
          include: ['test/**/*.slow.test.ts'],
          environment: 'node',
          testTimeout: 180_000,
          hookTimeout: 180_000,
          // Two cores: ffmpeg-heavy files must not all run at once.
          maxWorkers: 2,
          fileParallelism: true,
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});
