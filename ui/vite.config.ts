import { defineConfig } from 'vitest/config';
import { svelte } from '@sveltejs/vite-plugin-svelte';

export default defineConfig(({ mode }) => ({
  plugins: [svelte()],
  // The webview loads files from the app bundle; relative URLs keep them working there.
  base: './',
  clearScreen: false,
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    // Inlined assets would need `data:` in more CSP directives; keep them as files.
    assetsInlineLimit: 0,
  },
  // Svelte 5 components must resolve to their browser build under jsdom.
  resolve: mode === 'test' ? { conditions: ['browser'] } : undefined,
  test: {
    environment: 'jsdom',
    include: ['src/**/*.test.ts'],
    // The contrast test reads the stylesheet's colours as text.
    css: { include: [/app\.css/] },
  },
}));
