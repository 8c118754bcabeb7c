import { Inject, Injectable, Logger, OnModuleDestroy } from '@nestjs/common';
import { GatewayConfig } from '@simdeploy/config';
import { Status, isValidDeploymentId } from '@simdeploy/domain';
import { SERVICE_CONFIG } from '@simdeploy/service-kit';
import { DeploymentCommandHandler, ProviderRegistry } from '@simdeploy/workflows';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { STATUS_CODES, request as httpRequest, type IncomingHttpHeaders, type IncomingMessage, type OutgoingHttpHeaders } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { Duplex } from 'node:stream';
import { WebSocket, WebSocketServer, type RawData } from 'ws';
import { AccessRefusedError, AccessTokens } from '../auth/access-tokens';

/** `/simulations/<id>/connect` and anything below it, which goes to the same path below the simulator's root. */
const CONNECT_PATH = /^\/simulations\/([^/]+)\/connect(\/.*)?$/;
/** A close code of our own (RFC 6455 leaves 4000-4999 to applications): the simulation stopped or is stopping. */
export const SIMULATION_STOPPED_CLOSE_CODE = 4000;
const MAX_MESSAGE_BYTES = 64 * 1024 * 1024;
/** Reading from one side pauses while this much waits to be written to the other. */
const HIGH_WATER_BYTES = 4 * 1024 * 1024;
const LOW_WATER_BYTES = 1024 * 1024;
const UPSTREAM_TIMEOUT_MS = 10_000;
/** Idle clients are pinged this often (which also keeps an ingress's idle timeout from cutting them); one that does not answer is dropped. */
const HEARTBEAT_MS = 30_000;
/** A side that does not finish the closing handshake is cut after this. */
const CLOSE_TIMEOUT_MS = 5_000;
const VALID_WS_KEY = /^[+/0-9A-Za-z]{22}==$/;

const HOP_BY_HOP = ['connection', 'keep-alive', 'proxy-authenticate', 'proxy-authorization', 'te', 'trailer', 'transfer-encoding', 'upgrade'];
/** The caller's credentials for the gateway are not the simulator's business. */
const NOT_FORWARDED = new Set([...HOP_BY_HOP, 'host', 'authorization', 'cookie']);

interface Bridge {
  client: WebSocket;
  upstream: WebSocket;
  alive: boolean;
}

interface Route {
  deploymentId: string;
  /** The path below the simulator's root, `/` at least. */
  rest: string;
  token: string | undefined;
  search: URLSearchParams;
}

const routeOf = (rawUrl: string | undefined): Route | null => {
  const url = new URL(rawUrl ?? '/', 'http://gateway');
  const match = CONNECT_PATH.exec(url.pathname);
  if (!match) return null;
  const token = url.searchParams.get('token') ?? undefined;
  url.searchParams.delete('token');
  return { deploymentId: decodeURIComponent(match[1] as string), rest: match[2] ?? '/', token, search: url.searchParams };
};

const errorBody = (status: number, message: string): string => JSON.stringify({ statusCode: status, error: STATUS_CODES[status] ?? 'Error', message });

/** Answers an upgrade request with a plain HTTP error and hangs up: nothing was upgraded yet. */
function refuse(socket: Duplex, status: number, message: string): void {
  if (!socket.writable) return void socket.destroy();
  const body = errorBody(status, message);
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}\r\nConnection: close\r\nContent-Type: application/json\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
}

const filteredHeaders = (headers: IncomingHttpHeaders, drop: Set<string>): OutgoingHttpHeaders => {
  const named = String(headers.connection ?? '')
    .split(',')
    .map((h) => h.trim().toLowerCase());
  return Object.fromEntries(Object.entries(headers).filter(([name, value]) => value !== undefined && !drop.has(name) && !named.includes(name)));
};

/**
 * The access proxy: WebSocket and plain HTTP at `/simulations/:id/connect[/path]`, passed to the
 * simulator's endpoint (the pod runtime says where). Every connection and request needs an access
 * token for that simulation (`?token=`), and the simulation must be Running; connections are closed
 * when it stops. Refusals are plain HTTP answers (401 bad or expired token, 403 another
 * simulation's token, 404, 409 not Running, 502/503 no simulator), before anything is upgraded.
 */
@Injectable()
export class SimulatorProxy implements OnModuleDestroy {
  private readonly logger = new Logger('access');
  private readonly sockets = new WebSocketServer({
    noServer: true,
    clientTracking: false,
    maxPayload: MAX_MESSAGE_BYTES,
    perMessageDeflate: false,
    handleProtocols: (_offered, request) => this.chosenProtocol.get(request) || false,
  });
  /** The subprotocol the simulator chose, answered to the client that offered it. */
  private readonly chosenProtocol = new WeakMap<IncomingMessage, string>();
  private readonly bridges = new Map<string, Set<Bridge>>();
  private readonly timers: NodeJS.Timeout[] = [];
  private checking = false;

  constructor(
    private readonly tokens: AccessTokens,
    private readonly handler: DeploymentCommandHandler,
    private readonly providers: ProviderRegistry,
    @Inject(SERVICE_CONFIG) private readonly config: GatewayConfig,
  ) {}

  /** Serves the proxy on the gateway's Fastify instance; before the app is initialised. */
  async register(fastify: FastifyInstance): Promise<void> {
    await fastify.register(async (scope) => {
      // Bodies go to the simulator as they come, whatever their type.
      scope.removeAllContentTypeParsers();
      scope.addContentTypeParser('*', (_request, payload, done) => done(null, payload));
      const handle = (request: FastifyRequest, reply: FastifyReply) => this.proxyHttp(request, reply);
      scope.all('/simulations/:id/connect', handle);
      scope.all('/simulations/:id/connect/*', handle);
    });
    fastify.server.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => this.onUpgrade(request, socket, head));
    fastify.addHook('preClose', (done) => {
      this.closeAll(1001, 'the gateway is shutting down');
      done();
    });
    this.timers.push(
      setInterval(() => void this.closeStopped(), this.config.ACCESS_CHECK_INTERVAL_MS).unref(),
      setInterval(() => this.heartbeat(), HEARTBEAT_MS).unref(),
    );
  }

  onModuleDestroy(): void {
    this.closeAll(1001, 'the gateway is shutting down');
  }

  /** Open WebSocket connections, by simulation. */
  connectionCount(deploymentId?: string): number {
    if (deploymentId !== undefined) return this.bridges.get(deploymentId)?.size ?? 0;
    return [...this.bridges.values()].reduce((sum, set) => sum + set.size, 0);
  }

  /** The simulator's URL for a token that may open it now, or why not. */
  private async authorize(route: Route): Promise<URL> {
    const { deploymentId } = route;
    if (!isValidDeploymentId(deploymentId)) throw new AccessRefusedError(404, `simulation ${deploymentId} not found`);
    // The token first: without one, nothing says whether the simulation exists.
    const grant = await this.tokens.verify(route.token, deploymentId);
    const { state } = await this.handler.load(deploymentId);
    if (state === null) throw new AccessRefusedError(404, `simulation ${deploymentId} not found`);
    if (!grant.admin && state.owner !== grant.subject) throw new AccessRefusedError(403, 'the access token was not given for this simulation');
    if (state.status !== Status.Running) throw new AccessRefusedError(409, `simulation ${deploymentId} is ${state.status}, not Running`);
    let endpoint;
    try {
      endpoint = await this.providers.get(state.provider).pods.simulatorEndpoint(deploymentId, AbortSignal.timeout(UPSTREAM_TIMEOUT_MS));
    } catch (error) {
      this.logger.warn(`the simulator of ${deploymentId} could not be found: ${error instanceof Error ? error.message : String(error)}`);
      throw new AccessRefusedError(502, 'the simulator could not be found');
    }
    if (!endpoint) throw new AccessRefusedError(503, 'the simulator has no address yet; try again');
    const target = new URL(endpoint.url);
    target.pathname = `${target.pathname.replace(/\/$/, '')}${route.rest}`;
    target.search = route.search.toString();
    return target;
  }

  private async proxyHttp(request: FastifyRequest, reply: FastifyReply): Promise<void> {
    const route = routeOf(request.url);
    if (!route) return void reply.status(404).type('application/json').send(errorBody(404, 'not found'));
    let target: URL;
    try {
      target = await this.authorize(route);
    } catch (error) {
      if (!(error instanceof AccessRefusedError)) throw error;
      return void reply.status(error.status).type('application/json').send(errorBody(error.status, error.message));
    }
    reply.hijack();
    const response = reply.raw;
    const headers = { ...filteredHeaders(request.headers, NOT_FORWARDED), host: target.host, 'x-forwarded-for': request.ip, 'x-forwarded-proto': request.protocol };
    const upstream = (target.protocol === 'https:' ? httpsRequest : httpRequest)(target, { method: request.method, headers, timeout: UPSTREAM_TIMEOUT_MS });
    const fail = (status: number, message: string) => {
      if (response.headersSent) return void response.destroy();
      response.writeHead(status, { 'content-type': 'application/json' }).end(errorBody(status, message));
    };
    upstream.on('timeout', () => upstream.destroy(new Error('timeout')));
    upstream.on('error', (error) => {
      request.raw.unpipe(upstream);
      fail(error.message === 'timeout' ? 504 : 502, error.message === 'timeout' ? 'the simulator did not answer in time' : 'the simulator could not be reached');
    });
    upstream.on('response', (answer) => {
      response.writeHead(answer.statusCode ?? 502, filteredHeaders(answer.headers, new Set(HOP_BY_HOP)));
      answer.pipe(response);
      answer.on('error', () => response.destroy());
    });
    // A client that goes away takes its upstream request with it.
    response.on('close', () => {
      if (!response.writableFinished) upstream.destroy();
    });
    request.raw.pipe(upstream);
  }

  private onUpgrade(request: IncomingMessage, socket: Duplex, head: Buffer): void {
    // A client that resets during the handshake must not take the gateway down.
    socket.on('error', () => socket.destroy());
    const route = routeOf(request.url);
    if (!route) return refuse(socket, 404, 'nothing to upgrade here');
    const key = request.headers['sec-websocket-key'];
    if ((request.headers.upgrade ?? '').toLowerCase() !== 'websocket' || typeof key !== 'string' || !VALID_WS_KEY.test(key)) {
      return refuse(socket, 400, 'not a WebSocket handshake');
    }
    this.connect(request, socket, head, route).catch((error: unknown) => {
      this.logger.error(`access connection to ${route.deploymentId}: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
      refuse(socket, 500, 'internal error');
    });
  }

  private async connect(request: IncomingMessage, socket: Duplex, head: Buffer, route: Route): Promise<void> {
    let target: URL;
    try {
      target = await this.authorize(route);
    } catch (error) {
      if (error instanceof AccessRefusedError) return refuse(socket, error.status, error.message);
      throw error;
    }
    if (socket.destroyed) return;
    target.protocol = target.protocol === 'https:' ? 'wss:' : 'ws:';
    const offered = String(request.headers['sec-websocket-protocol'] ?? '')
      .split(',')
      .map((p) => p.trim())
      .filter((p) => p !== '');
    // The simulator answers first, so the client is only upgraded to something that works.
    const upstream = new WebSocket(target, offered, { handshakeTimeout: UPSTREAM_TIMEOUT_MS, maxPayload: MAX_MESSAGE_BYTES, perMessageDeflate: false, followRedirects: false });
    upstream.on('error', (error) => this.logger.debug(`simulator connection of ${route.deploymentId}: ${error.message}`));
    const opened = await new Promise<boolean>((resolve) => {
      upstream.once('open', () => resolve(true));
      upstream.once('unexpected-response', (_request, answer) => {
        answer.resume();
        resolve(false);
      });
      upstream.once('close', () => resolve(false));
    });
    if (!opened) {
      upstream.terminate();
      return refuse(socket, 502, 'the simulator did not accept the connection');
    }
    if (socket.destroyed) return void upstream.close(1001, 'the client went away');
    let bridged = false;
    socket.once('close', () => {
      if (!bridged) upstream.terminate();
    });
    this.chosenProtocol.set(request, upstream.protocol);
    this.sockets.handleUpgrade(request, socket, head, (client) => {
      bridged = true;
      this.bridge(route.deploymentId, client, upstream);
    });
  }

  private bridge(deploymentId: string, client: WebSocket, upstream: WebSocket): void {
    const bridge: Bridge = { client, upstream, alive: true };
    const open = this.bridges.get(deploymentId) ?? new Set<Bridge>();
    open.add(bridge);
    this.bridges.set(deploymentId, open);
    client.on('pong', () => (bridge.alive = true));
    client.on('error', () => client.terminate());
    relay(client, upstream, 1001, 'the client went away');
    relay(upstream, client, 1011, 'the connection to the simulator was lost');
    let closed = 0;
    const forget = () => {
      if (++closed < 2) return;
      open.delete(bridge);
      if (open.size === 0 && this.bridges.get(deploymentId) === open) this.bridges.delete(deploymentId);
    };
    client.once('close', forget);
    upstream.once('close', forget);
  }

  /** Closes the connections of simulations that are no longer Running, one read per simulation. */
  private async closeStopped(): Promise<void> {
    if (this.checking) return;
    this.checking = true;
    try {
      for (const [deploymentId, open] of [...this.bridges]) {
        const { state } = await this.handler.load(deploymentId).catch(() => ({ state: undefined }));
        if (state === undefined || state?.status === Status.Running) continue;
        const reason = `the simulation is ${state?.status ?? 'gone'}`;
        for (const bridge of open) closeBridge(bridge, SIMULATION_STOPPED_CLOSE_CODE, reason);
      }
    } finally {
      this.checking = false;
    }
  }

  private heartbeat(): void {
    for (const open of this.bridges.values()) {
      for (const bridge of open) {
        if (!bridge.alive) {
          bridge.client.terminate();
          continue;
        }
        bridge.alive = false;
        if (bridge.client.readyState === WebSocket.OPEN) bridge.client.ping();
      }
    }
  }

  private closeAll(code: number, reason: string): void {
    for (const timer of this.timers.splice(0)) clearInterval(timer);
    for (const open of this.bridges.values()) for (const bridge of open) closeBridge(bridge, code, reason);
  }
}

/** Messages from one side to the other as they come (text stays text), reading paused while the other side is behind. */
function relay(from: WebSocket, to: WebSocket, abnormalCode: number, abnormalReason: string): void {
  from.on('message', (data: RawData, isBinary: boolean) => {
    if (to.readyState !== WebSocket.OPEN) return;
    to.send(data, { binary: isBinary }, () => {
      if (from.isPaused && to.bufferedAmount < LOW_WATER_BYTES) from.resume();
    });
    if (to.bufferedAmount > HIGH_WATER_BYTES) from.pause();
  });
  from.on('close', (code: number, reason: Buffer) => {
    // 1005 (no code) and 1006 (no closing handshake) are never sent: they describe what was received.
    if (code === 1005) closeSocket(to);
    else if (code === 1006) closeSocket(to, abnormalCode, abnormalReason);
    else closeSocket(to, code, reason.toString('utf8'));
  });
}

function closeBridge(bridge: Bridge, code: number, reason: string): void {
  closeSocket(bridge.client, code, reason);
  closeSocket(bridge.upstream, 1001, reason);
}

function closeSocket(socket: WebSocket, code?: number, reason?: string): void {
  if (socket.readyState === WebSocket.CLOSING || socket.readyState === WebSocket.CLOSED) return;
  if (socket.readyState === WebSocket.CONNECTING) return void socket.terminate();
  // A close frame carries at most 123 bytes of reason.
  const text = reason === undefined ? undefined : Buffer.from(reason).subarray(0, 123).toString('utf8').replace(/\uFFFD+$/, '');
  if (code === undefined) socket.close();
  else socket.close(code, text);
  setTimeout(() => socket.terminate(), CLOSE_TIMEOUT_MS).unref();
}
