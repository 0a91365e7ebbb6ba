import { defineConfig } from 'vite';

// Run from the repository root (npm run build:console): the console is served by the service
// itself under /console/, from dist/console, with no asset from anywhere else.
export default defineConfig({
  root: 'console',
  base: '/console/',
  logLevel: 'warn',
  build: {
    outDir: '../dist/console',
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: false,
    reportCompressedSize: false,
  },
});
