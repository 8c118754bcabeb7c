import react from '@vitejs/plugin-react';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const here = fileURLToPath(new URL('.', import.meta.url));
// `vite dev` forwards the API to a gateway started with `npm start`.
const gateway = process.env['SIMDEPLOY_URL'] ?? 'http://127.0.0.1:3000';
const api = ['/simulations', '/admin', '/health', '/docs-json', '/local-tokens'];

export default defineConfig({
  root: `${here}src`,
  base: '/',
  plugins: [react()],
  build: {
    // The gateway serves dist/apps/dashboard at / (see apps/gateway/src/app/dashboard).
    outDir: `${here}../../dist/apps/dashboard`,
    emptyOutDir: true,
    target: 'es2022',
    assetsDir: 'assets',
    // Everything through /assets/ with a strict CSP: no inlined modules.
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
  },
  server: { proxy: Object.fromEntries(api.map((path) => [path, gateway])) },
});
