import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TestGateway, startTestGateway, token } from './support/test-gateway';

const INDEX = '<!doctype html><html><head><title>dashboard</title></head><body><div id="root"></div></body></html>';

/** GET with the headers a browser (or curl) sends; node:http so the Host header can be what a test says. */
function get(base: string, path: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: Record<string, string>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(`${base}${path}`, { headers, agent: false }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (body += chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, headers: response.headers as Record<string, string>, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

const html = { accept: 'text/html,application/xhtml+xml,*/*;q=0.8' };

describe('the dashboard, served by the gateway', () => {
  let dir: string;
  let gateway: TestGateway;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'dashboard-'));
    mkdirSync(join(dir, 'assets'));
    writeFileSync(join(dir, 'index.html'), INDEX);
    writeFileSync(join(dir, 'assets', 'index-abc123.js'), 'console.log("dashboard")');
    gateway = await startTestGateway('DASH', { env: { DASHBOARD_DIR: dir } });
  });

  afterAll(async () => {
    await gateway?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('answers / and any client-side route a browser asks for with the page, under a strict CSP', async () => {
    for (const path of ['/', '/launch', '/simulation/0b3c6a52-8f1d-4c36-9d8e-2f5b1a7c9e10', '/reviews?x=1']) {
      const page = await get(gateway.base, path, html);
      expect([path, page.status, page.body]).toEqual([path, 200, INDEX]);
      expect(page.headers['content-type']).toContain('text/html');
      expect(page.headers['cache-control']).toBe('no-cache');
      expect(page.headers['content-security-policy']).toContain("script-src 'self'");
    }
    expect((await get(gateway.base, '/', html)).body).not.toContain('simdeploy-local-tokens');
  });

  it('serves the hashed assets, cached for good', async () => {
    const asset = await get(gateway.base, '/assets/index-abc123.js');
    expect(asset.status).toBe(200);
    expect(asset.body).toBe('console.log("dashboard")');
    expect(asset.headers['cache-control']).toContain('immutable');
    expect((await get(gateway.base, '/assets/missing.js', html)).status).toBe(404);
  });

  it('leaves the API where it was: docs, health, the simulations and JSON 404s', async () => {
    expect((await get(gateway.base, '/docs', html)).body).toContain('swagger');
    expect(JSON.parse((await get(gateway.base, '/docs-json')).body).paths['/simulations/stream']).toBeDefined();
    expect(JSON.parse((await get(gateway.base, '/health', html)).body)).toEqual({ status: 'ok' });
    const unauthenticated = await get(gateway.base, '/simulations', html);
    expect([unauthenticated.status, unauthenticated.headers['content-type']]).toEqual([401, expect.stringContaining('application/json')]);
    const list = await get(gateway.base, '/simulations', { ...html, authorization: `Bearer ${await token('alice')}` });
    expect(JSON.parse(list.body)).toMatchObject({ items: [], total: 0 });
    for (const [path, headers] of [
      ['/simulations/abc/unknown', html],
      ['/admin/nothing', html],
      ['/no-such-page', { accept: '*/*' }],
      ['/local-tokens', html],
    ] as const) {
      const answer = await get(gateway.base, path, headers);
      expect([path, answer.status, JSON.parse(answer.body)]).toEqual([path, 404, expect.objectContaining({ statusCode: 404, message: `Cannot GET ${path}` })]);
    }
  });
});

describe('sign-in tokens offered on this machine (npm start)', () => {
  let dir: string;
  let gateway: TestGateway;
  const tokens = { admin: 'aaa.bbb.ccc', user: 'ddd.eee.fff' };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'dashboard-'));
    writeFileSync(join(dir, 'index.html'), INDEX);
    mkdirSync(join(dir, 'assets'));
    gateway = await startTestGateway('DASHTOK', { env: { DASHBOARD_DIR: dir, DASHBOARD_LOCAL_TOKENS: JSON.stringify(tokens) } });
  });

  afterAll(async () => {
    await gateway?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('tells the page, and answers a loopback caller that names a loopback host', async () => {
    expect((await get(gateway.base, '/', html)).body).toContain('<meta name="simdeploy-local-tokens" content="/local-tokens">');
    const port = new URL(gateway.base).port;
    for (const host of [`127.0.0.1:${port}`, `localhost:${port}`]) {
      const answer = await get(gateway.base, '/local-tokens', { host });
      expect([host, answer.status, answer.headers['cache-control']]).toEqual([host, 200, 'no-store']);
      expect(JSON.parse(answer.body)).toEqual({ tokens: [{ name: 'admin', token: tokens.admin }, { name: 'user', token: tokens.user }] });
    }
  });

  it('refuses a page whose DNS name was rebound to this machine', async () => {
    const answer = await get(gateway.base, '/local-tokens', { host: 'attacker.example:80' });
    expect(answer.status).toBe(404);
    expect(answer.body).not.toContain(tokens.admin);
  });
});
