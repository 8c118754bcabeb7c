import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { freePort, portAcceptsConnections } from './ports';
import { waitFor } from './wait-for';

const FALLBACK_BIN = '/usr/sbin/nats-server';

function isExecutable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * Path of the nats-server binary: $NATS_SERVER_BIN, else the first on PATH,
 * else /usr/sbin/nats-server (where Debian's package puts it). Throws a
 * message that says how to install it.
 */
export function findNatsServerBin(): string {
  const fromEnv = process.env['NATS_SERVER_BIN'];
  if (fromEnv && isExecutable(fromEnv)) return fromEnv;
  const dirs = (process.env['PATH'] ?? '').split(delimiter).filter(Boolean);
  for (const dir of dirs) {
    const candidate = join(dir, 'nats-server');
    if (isExecutable(candidate)) return candidate;
  }
  if (isExecutable(FALLBACK_BIN)) return FALLBACK_BIN;
  throw new Error(
    'nats-server not found (looked at $NATS_SERVER_BIN, PATH and /usr/sbin/nats-server). ' +
      'Install the Debian package `nats-server` (apt-get install -y nats-server) ' +
      'or set NATS_URL to a running server started with -js.',
  );
}

export interface StartNatsServerOptions {
  /** TCP port for clients; a free one is picked when omitted. */
  port?: number;
  /** JetStream store directory; a fresh temp dir (removed by stop) when omitted. */
  storeDir?: string;
  /** How long to wait for the port to accept connections. Default 15 000 ms. */
  startTimeoutMs?: number;
}

export interface NatsServerHandle {
  url: string;
  port: number;
  storeDir: string;
  /** Graceful stop (SIGTERM); removes the store dir if this helper created it. */
  stop(): Promise<void>;
  /** SIGKILL, as a crash would; keeps the store dir for restart(). */
  kill9(): Promise<void>;
  /** Starts the server again on the same port with the same store dir. */
  restart(): Promise<void>;
}

// Servers still running when this process exits (a test that forgot stop(),
// or Jest exiting without teardown) are killed rather than left orphaned.
const liveServers = new Set<ChildProcess>();
let exitHookInstalled = false;
function track(proc: ChildProcess): void {
  liveServers.add(proc);
  proc.once('exit', () => liveServers.delete(proc));
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.once('exit', () => {
      for (const server of liveServers) server.kill('SIGKILL');
    });
  }
}

function waitForExit(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

/** Starts a private nats-server with JetStream on 127.0.0.1. */
export async function startNatsServer(options: StartNatsServerOptions = {}): Promise<NatsServerHandle> {
  const bin = findNatsServerBin();
  const port = options.port ?? (await freePort());
  const ownsStoreDir = options.storeDir === undefined;
  const storeDir = options.storeDir ?? mkdtempSync(join(tmpdir(), 'simdeploy-nats-'));
  const startTimeoutMs = options.startTimeoutMs ?? 15_000;
  let child: ChildProcess | undefined;

  const launch = async (): Promise<void> => {
    let stderr = '';
    const proc = spawn(bin, ['-js', '-a', '127.0.0.1', '-p', String(port), '-sd', storeDir], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    proc.stderr?.on('data', (chunk: Buffer) => {
      // nats-server logs to stderr; keep the tail for error messages only.
      stderr = (stderr + chunk.toString()).slice(-4000);
    });
    let spawnError: Error | undefined;
    proc.once('error', (error) => {
      spawnError = error;
    });
    child = proc;
    track(proc);
    try {
      await waitFor(
        async () => {
          if (spawnError) throw spawnError;
          if (proc.exitCode !== null || proc.signalCode !== null) {
            throw new Error(`nats-server exited early (code ${proc.exitCode}, signal ${proc.signalCode})`);
          }
          return portAcceptsConnections(port);
        },
        { timeoutMs: startTimeoutMs, intervalMs: 25, description: `nats-server on port ${port}` },
      );
    } catch (error) {
      proc.kill('SIGKILL');
      await waitForExit(proc);
      const message = error instanceof Error ? error.message : String(error);
      throw new Error(`${message}\n${bin} output:\n${stderr}`);
    }
  };

  const terminate = async (signal: NodeJS.Signals): Promise<void> => {
    const proc = child;
    child = undefined;
    if (!proc) return;
    proc.kill(signal);
    await waitForExit(proc);
  };

  await launch();

  return {
    url: `nats://127.0.0.1:${port}`,
    port,
    storeDir,
    async stop() {
      await terminate('SIGTERM');
      if (ownsStoreDir) rmSync(storeDir, { recursive: true, force: true });
    },
    async kill9() {
      await terminate('SIGKILL');
    },
    async restart() {
      await terminate('SIGTERM');
      await launch();
    },
  };
}
