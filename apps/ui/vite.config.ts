import react from '@vitejs/plugin-react';
import { resolve } from 'path';
import { defineConfig } from 'vite';

/** The dashboard: a static build the gateway serves at /ui (no CDN, works offline). */
export default defineConfig({
  root: __dirname,
  base: '/ui/',
  plugins: [react()],
  resolve: { alias: { '@app/sdk': resolve(__dirname, '../../libs/sdk/src') } },
  build: { outDir: resolve(__dirname, '../../dist/ui'), emptyOutDir: true, sourcemap: false },
  logLevel: 'warn',
});
