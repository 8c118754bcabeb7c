import { execFile } from 'node:child_process';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { disableOtlpTracing, inSpan } from '../src';

const ROOT = resolve(__dirname, '../../..');

/** Runs the exporter in a Node process of its own, as a service does. */
async function exportSpanVia(endpoint: string, traceparent: string): Promise<{ traceId: string; spanId: string }> {
  const { stdout } = await promisify(execFile)(
    process.execPath,
    ['-r', join(ROOT, 'tools/register-ts.cjs'), join(__dirname, 'fixtures/export-span.ts'), endpoint, traceparent],
    { cwd: ROOT, timeout: 20_000 },
  );
  return JSON.parse(stdout.trim()) as { traceId: string; spanId: string };
}

/** A stand-in OpenTelemetry collector on loopback: it records what the exporter posts. */
async function collector() {
  const requests: { path: string; body: string }[] = [];
  const server = createServer((req: IncomingMessage, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
    req.on('end', () => {
      requests.push({ path: req.url ?? '', body });
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { requests, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, close: () => new Promise((r) => server.close(r)) };
}

describe('span export over OTLP/HTTP', () => {
  jest.setTimeout(30_000);

  it('sends the spans of a trace, with the parent it continued, to <endpoint>/v1/traces', async () => {
    const otel = await collector();
    try {
      const child = await exportSpanVia(otel.url, '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01');
      expect(child.traceId).toBe('4bf92f3577b34da6a3ce929d0e0e4736');
      const exported = otel.requests.filter((r) => r.path === '/v1/traces');
      expect(exported.length).toBeGreaterThan(0);
      const body = exported.map((r) => r.body).join('\n');
      expect(body).toContain('4bf92f3577b34da6a3ce929d0e0e4736');
      expect(body).toContain(child.spanId);
      expect(body).toContain('launch command');
      expect(body).toContain('simdeploy-test');
    } finally {
      await otel.close();
    }
  });

  it('exports nothing when it was never enabled', async () => {
    const otel = await collector();
    try {
      await inSpan('quiet', {}, async () => undefined);
      await disableOtlpTracing();
      expect(otel.requests).toEqual([]);
    } finally {
      await otel.close();
    }
  });
});
