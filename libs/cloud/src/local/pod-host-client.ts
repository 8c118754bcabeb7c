import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { dirname, join } from 'node:path';
import { ProviderError } from '../ports';
import { hostLogFile, hostSocketPath, lineReader, stateDirToken, type HostAnswers, type Op, type Reply, type RequestOf } from './pod-host-protocol';

export interface PodHostClientOptions {
  /** Given to a host this client starts. */
  ownerPollMs: number;
  graceMs: number;
}

interface Pending {
  resolve: (result: unknown) => void;
  reject: (error: Error) => void;
  timer: NodeJS.Timeout;
  /** The connection the request went out on: only its loss fails the request. */
  socket: Socket;
}

const HOST_START_TIMEOUT_MS = 20_000;
/** How often a request goes out again after its connection was lost (every request is idempotent). */
const LOST_CONNECTION_ATTEMPTS = 4;
const DEFAULT_REQUEST_TIMEOUT_MS = 60_000;

/** No host listens: the socket does not exist (or its file is a dead host's). */
const noHost = (error: unknown): boolean => ['ECONNREFUSED', 'ENOENT'].includes((error as NodeJS.ErrnoException).code ?? '');

const unavailable = (message: string, cause?: unknown) => new ProviderError('PodHostUnavailable', message, true, { cause });

/** How to run pod-host-main from here: the compiled file, or the TypeScript source through tools/register-ts.cjs. */
function hostCommand(): string[] {
  if (!__filename.endsWith('.ts')) return [join(__dirname, 'pod-host-main.js')];
  for (let dir = __dirname; ; dir = dirname(dir)) {
    const register = join(dir, 'tools', 'register-ts.cjs');
    if (existsSync(register)) return ['-r', register, join(__dirname, 'pod-host-main.ts')];
    if (dirname(dir) === dir) throw new Error(`tools/register-ts.cjs not found above ${__dirname}`);
  }
}

/**
 * A service's connection to the pod host of a state directory: requests multiplexed on one
 * socket, which holds the process open only while a request is out. With `start`, a host that
 * is not running is started (detached, so it outlives this process) and waited for.
 */
export class PodHostClient {
  private socket?: Promise<Socket>;
  /** The connection `socket` resolved to, while it lives. */
  private current?: Socket;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private token?: string;

  constructor(
    private readonly stateDir: string,
    private readonly options: PodHostClientOptions,
  ) {}

  /**
   * The host's answer, or undefined when no host runs and `start` is false. Every request is
   * idempotent, so one sent on a connection that turns out to be a dead host's is sent again.
   */
  async request<O extends Op>(
    request: RequestOf<O>,
    options: { start: boolean; timeoutMs?: number },
  ): Promise<HostAnswers[O] | undefined> {
    // A host killed a moment ago can still take a connection while it dies: a few tries, a
    // little apart, reach either the next host or none (and then the files answer).
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.send(request, options);
      } catch (error) {
        if (!(error instanceof ConnectionLost) || attempt >= LOST_CONNECTION_ATTEMPTS) throw error;
        await new Promise((resolve) => setTimeout(resolve, 25 * attempt));
      }
    }
  }

  private async send<O extends Op>(request: RequestOf<O>, options: { start: boolean; timeoutMs?: number }): Promise<HostAnswers[O] | undefined> {
    let socket: Socket;
    try {
      socket = await this.connection(options.start);
    } catch (error) {
      if (!options.start && noHost(error)) return undefined;
      throw error instanceof ProviderError ? error : unavailable(`cannot reach the pod host of ${this.stateDir}: ${(error as Error).message}`, error);
    }
    this.token ??= await stateDirToken(this.stateDir);
    const id = this.nextId++;
    const timeoutMs = options.timeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
    const answer = new Promise<unknown>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        this.updateRef(socket);
        reject(unavailable(`the pod host did not answer ${request.op} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, { resolve, reject, timer, socket });
    });
    this.updateRef(socket);
    socket.write(`${JSON.stringify({ id, token: this.token, request })}\n`);
    return (await answer) as HostAnswers[O];
  }

  close(): void {
    void this.socket?.then((socket) => socket.destroy()).catch(() => undefined);
    this.socket = undefined;
  }

  private connection(start: boolean): Promise<Socket> {
    this.socket ??= this.open(start).catch((error: unknown) => {
      this.socket = undefined;
      throw error;
    });
    return this.socket;
  }

  private async open(start: boolean): Promise<Socket> {
    const path = hostSocketPath(this.stateDir);
    try {
      return this.wire(await connectTo(path));
    } catch (error) {
      if (!start || !noHost(error)) throw error;
    }
    this.startHost();
    const deadline = Date.now() + HOST_START_TIMEOUT_MS;
    for (;;) {
      try {
        return this.wire(await connectTo(path));
      } catch (error) {
        if (!noHost(error)) throw error;
        if (Date.now() > deadline) throw unavailable(`the pod host of ${this.stateDir} did not start within ${HOST_START_TIMEOUT_MS} ms; see ${hostLogFile(this.stateDir)}`);
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
    }
  }

  private startHost(): void {
    mkdirSync(this.stateDir, { recursive: true });
    const log = openSync(hostLogFile(this.stateDir), 'a');
    // The host finds stray pods by their labels: it must not carry them itself.
    const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('SIMDEPLOY_')));
    try {
      const args = [...hostCommand(), '--state-dir', this.stateDir, '--owner-poll-ms', String(this.options.ownerPollMs), '--grace-ms', String(this.options.graceMs)];
      spawn(process.execPath, args, { detached: true, stdio: ['ignore', log, log], env }).unref();
    } finally {
      closeSync(log);
    }
  }

  private wire(socket: Socket): Socket {
    this.current = socket;
    socket.on(
      'data',
      lineReader((line) => {
        let reply: Reply;
        try {
          reply = JSON.parse(line) as Reply;
        } catch {
          socket.destroy(); // not our host's speech: its requests fail as lost and are sent once more
          return;
        }
        const pending = this.pending.get(reply.id);
        if (!pending) return;
        this.pending.delete(reply.id);
        clearTimeout(pending.timer);
        this.updateRef(socket);
        if ('error' in reply) pending.reject(new ProviderError('PodHostRefused', reply.error, false));
        else pending.resolve(reply.result);
      }),
    );
    // 'error' and 'close' both come, the close perhaps after a request was sent again on a new
    // connection: a lost connection fails only its own requests, and forgets only itself.
    const lost = () => {
      if (this.current === socket) {
        this.current = undefined;
        this.socket = undefined;
      }
      for (const [id, pending] of this.pending) {
        if (pending.socket !== socket) continue;
        clearTimeout(pending.timer);
        pending.reject(new ConnectionLost());
        this.pending.delete(id);
      }
    };
    socket.on('error', lost);
    socket.on('close', lost);
    socket.unref();
    return socket;
  }

  private updateRef(socket: Socket): void {
    if (this.pending.size > 0) socket.ref();
    else socket.unref();
  }
}

class ConnectionLost extends ProviderError {
  constructor() {
    super('PodHostUnavailable', 'the connection to the pod host was lost', true);
  }
}

function connectTo(path: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(path);
    socket.once('connect', () => {
      socket.off('error', reject);
      resolve(socket);
    });
    socket.once('error', reject);
  });
}
