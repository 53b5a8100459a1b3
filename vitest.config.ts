import { defineConfig } from 'vitest/config';

// The whole suite runs twice: once on the native addon, once on the pure-JS fallback.
export default defineConfig({
  test: {
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: 'forks',
    projects: [
      { extends: true, test: { name: 'native', env: { PENSTOCK_IO: 'native' } } },
      { extends: true, test: { name: 'fallback', env: { PENSTOCK_IO: 'fallback' } } },
    ],
  },
});
