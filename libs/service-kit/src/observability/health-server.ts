import { Logger } from '@nestjs/common';
import { renderMetrics } from '@simdeploy/telemetry';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** Whether the service can do its work now, and what each check found. */
export interface Readiness {
  ready: boolean;
  checks: Record<string, boolean | string>;
}

export interface HealthServerOptions {
  port: number;
  host: string;
  /** Asked on every GET /health/ready. */
  readiness: () => Promise<Readiness>;
}

/** A check that hangs (a NATS flush on a broken connection) answers "not ready" after this long. */
const READINESS_TIMEOUT_MS = 3_000;

const send = (res: ServerResponse, status: number, contentType: string, body: string): void => {
  res.writeHead(status, { 'content-type': contentType, 'cache-control': 'no-store' });
  res.end(body);
};

/**
 * The workers' small HTTP port (they have no API): GET /metrics for Prometheus, /health
 * (the process answers: liveness) and /health/ready (it can work: readiness). Nothing else,
 * and no request body is read.
 */
export class HealthServer {
  private readonly logger = new Logger(HealthServer.name);

  private constructor(
    private readonly server: Server,
    readonly port: number,
  ) {}

  static async start(options: HealthServerOptions): Promise<HealthServer> {
    const server = createServer((req, res) => void handle(req, res, options.readiness));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port, options.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    const port = (server.address() as AddressInfo).port;
    const health = new HealthServer(server, port);
    health.logger.log(`metrics and health on http://${options.host}:${port}`);
    return health;
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }
}

async function handle(req: IncomingMessage, res: ServerResponse, readiness: () => Promise<Readiness>): Promise<void> {
  try {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, 'application/json', JSON.stringify({ statusCode: 405, message: 'GET only' }));
    if (path === '/metrics') {
      const { contentType, body } = await renderMetrics();
      return send(res, 200, contentType, body);
    }
    if (path === '/health') return send(res, 200, 'application/json', JSON.stringify({ status: 'ok' }));
    if (path === '/health/ready') {
      const result = await Promise.race([
        readiness(),
        new Promise<Readiness>((resolve) => setTimeout(() => resolve({ ready: false, checks: { timeout: `no answer within ${READINESS_TIMEOUT_MS} ms` } }), READINESS_TIMEOUT_MS).unref()),
      ]);
      return send(res, result.ready ? 200 : 503, 'application/json', JSON.stringify({ status: result.ready ? 'ok' : 'not ready', ...result.checks }));
    }
    send(res, 404, 'application/json', JSON.stringify({ statusCode: 404, message: `no ${path} here: /metrics, /health, /health/ready` }));
  } catch (error) {
    send(res, 500, 'application/json', JSON.stringify({ statusCode: 500, message: error instanceof Error ? error.message : 'internal error' }));
  }
}
