import { defineConfig } from 'vite';

// Served by the cairn binary at /admin/ (assets embedded at build time; no CDN).
export default defineConfig({
  base: '/admin/',
  build: { outDir: 'dist', emptyOutDir: true, assetsInlineLimit: 0, sourcemap: false },
});
