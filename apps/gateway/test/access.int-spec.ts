import { InMemoryLogArchive, MemoryCloud, PodRuntime, type SimulatorEndpoint } from '@simdeploy/cloud';
import { Actor, DomainError, SimDeploymentCommand, command } from '@simdeploy/domain';
import { JetStreamEventStore } from '@simdeploy/event-store';
import { waitFor } from '@simdeploy/testing';
import { Clock, DeploymentCommandHandler, ProviderRegistry } from '@simdeploy/workflows';
import { SignJWT } from 'jose';
import { randomUUID } from 'node:crypto';
import { createServer, request as httpRequest, type IncomingHttpHeaders, type Server } from 'node:http';
import { connect as tcpConnect, type AddressInfo } from 'node:net';
import { WebSocket, WebSocketServer } from 'ws';
import { AccessTokens } from '../src/app/auth/access-tokens';
import { SIMULATION_STOPPED_CLOSE_CODE } from '../src/app/proxy/simulator-proxy';
import { SECRET, TestGateway, startTestGateway, token } from './support/test-gateway';

const SERVICE: Actor = { subject: 'service:launcher', roles: ['service'] };
const SPEC = { world: 'w.sdf', simulatorImage: 'gz', robots: [{ name: 'r1', image: 'robot:1' }], nodeInstanceType: 'g4dn.xlarge', labels: {} };

/** What the gateway asks the runtime, answered from the test: where each simulator listens, what each pod logged. */
class LoopbackSimulators extends PodRuntime {
  readonly endpoints = new Map<string, string>();
  readonly logs = new Map<string, string[]>();
  private readonly unused = new MemoryCloud().pods;

  checkNodesJoined = this.unused.checkNodesJoined.bind(this.unused);
  createWorkload = this.unused.createWorkload.bind(this.unused);
  checkWorkload = this.unused.checkWorkload.bind(this.unused);
  deleteWorkload = this.unused.deleteWorkload.bind(this.unused);
  deleteNodes = this.unused.deleteNodes.bind(this.unused);
  listManagedWorkloads = this.unused.listManagedWorkloads.bind(this.unused);

  async simulatorEndpoint(deploymentId: string): Promise<SimulatorEndpoint | null> {
    const url = this.endpoints.get(deploymentId);
    return url ? { url } : null;
  }

  async readLogs(deploymentId: string, podName: string, tail: number): Promise<string[]> {
    return (this.logs.get(`${deploymentId}/${podName}`) ?? []).slice(-tail);
  }
}

interface Seen {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}

/** A simulator on loopback: WebSocket echo (text stays text), plain HTTP that says what it got. */
async function startSimulator(): Promise<{ url: string; server: Server; sockets: WebSocketServer; seen: Seen[]; close(): Promise<void> }> {
  const seen: Seen[] = [];
  const server = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk: Buffer) => (body += chunk.toString()));
    request.on('end', () => {
      seen.push({ method: request.method ?? '', url: request.url ?? '', headers: request.headers, body });
      response.writeHead(201, { 'content-type': 'application/json', 'x-simulator': 'yes' });
      response.end(JSON.stringify({ got: body }));
    });
  });
  const sockets = new WebSocketServer({ server, handleProtocols: (offered) => (offered.has('gz.v1') ? 'gz.v1' : false) });
  sockets.on('connection', (socket, request) => {
    seen.push({ method: 'WS', url: request.url ?? '', headers: request.headers, body: '' });
    socket.on('message', (data, isBinary) => {
      if (isBinary) socket.send(data, { binary: true });
      else socket.send(`echo: ${data.toString()}`);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    server,
    sockets,
    seen,
    async close() {
      for (const client of sockets.clients) client.terminate();
      await new Promise((resolve) => sockets.close(resolve));
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

interface Refusal {
  status: number;
  body: { statusCode: number; message: string };
}

/** A WebSocket through the gateway, or the HTTP answer it was refused with. */
function openSocket(url: string, protocols: string[] = []): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url, protocols);
    socket.once('open', () => resolve(socket));
    socket.once('unexpected-response', (_request, response) => {
      let text = '';
      response.on('data', (chunk: Buffer) => (text += chunk.toString()));
      response.on('end', () => reject(Object.assign(new Error(`refused with ${response.statusCode}`), { refusal: { status: response.statusCode, body: JSON.parse(text) } })));
    });
    socket.once('error', reject);
  });
}

const refusalOf = (url: string): Promise<Refusal> =>
  openSocket(url).then(
    (socket) => {
      socket.terminate();
      throw new Error(`${url} was opened`);
    },
    (error: { refusal?: Refusal }) => {
      if (!error.refusal) throw error;
      return error.refusal;
    },
  );

const nextMessage = (socket: WebSocket): Promise<{ data: string; binary: boolean }> =>
  new Promise((resolve) => socket.once('message', (data, binary) => resolve({ data: data.toString(), binary })));

const closed = (socket: WebSocket): Promise<{ code: number; reason: string }> =>
  new Promise((resolve) => socket.once('close', (code, reason) => resolve({ code, reason: reason.toString() })));

describe('simulator access through the gateway', () => {
  let gateway: TestGateway;
  let handler: DeploymentCommandHandler;
  let simulator: Awaited<ReturnType<typeof startSimulator>>;
  const runtime = new LoopbackSimulators();
  const archive = new InMemoryLogArchive();
  const cloud = new MemoryCloud();
  let alice: string;
  let bob: string;
  let admin: string;

  const exec = async <T extends SimDeploymentCommand['type']>(id: string, type: T, data: Extract<SimDeploymentCommand, { type: T }>['data'], by: Actor = SERVICE) => {
    const result = await handler.handle(id, command(type, data as never, { now: new Date().toISOString(), by }));
    if (result instanceof DomainError) throw result;
  };

  /** A simulation of `owner` that is Running, its simulator at the loopback one. */
  async function running(owner = 'alice'): Promise<string> {
    const id = randomUUID();
    await exec(id, 'RequestLaunch', { deploymentId: id, owner, spec: SPEC, provider: 'local' }, { subject: owner, roles: [] });
    await exec(id, 'StartLaunchingNodes', {});
    for (const node of (await handler.load(id)).state?.nodes ?? []) {
      await exec(id, 'RecordInstance', { role: node.role, index: node.index, instanceId: `i-${node.role}${node.index}`, nodeName: `node-${node.role}${node.index}` });
    }
    await exec(id, 'StartLaunchingPods', {});
    await exec(id, 'RecordWorkloadCreated', {});
    await exec(id, 'MarkRunning', {});
    runtime.endpoints.set(id, simulator.url);
    return id;
  }

  const call = async (method: string, path: string, auth?: string) => {
    const response = await fetch(`${gateway.base}${path}`, { method, headers: auth ? { authorization: `Bearer ${auth}` } : {} });
    const text = await response.text();
    return { status: response.status, json: text ? JSON.parse(text) : undefined, headers: response.headers };
  };

  const accessFor = async (id: string, auth: string): Promise<{ url: string; token: string; expiresAt: string; connectUrl: string }> => {
    const answer = await call('GET', `/simulations/${id}/access`, auth);
    if (answer.status !== 200) throw new Error(`access ${answer.status}: ${JSON.stringify(answer.json)}`);
    return answer.json;
  };

  beforeAll(async () => {
    simulator = await startSimulator();
    const registry = new ProviderRegistry({ local: { nodes: cloud.nodes, pods: runtime } }, 'local', archive);
    gateway = await startTestGateway('ACC', { registry, env: { ACCESS_CHECK_INTERVAL_MS: '100', ACCESS_TOKEN_TTL_S: '120' } });
    const { config, nc } = gateway;
    handler = new DeploymentCommandHandler(await JetStreamEventStore.create(nc, { streamName: config.EVENTS_STREAM, subjectPrefix: config.EVENTS_SUBJECT_PREFIX }));
    [alice, bob, admin] = await Promise.all([token('alice'), token('bob'), token('root', ['admin'])]);
  });

  afterAll(async () => {
    await gateway?.close();
    await simulator?.close();
  });

  describe('GET /simulations/:id/access', () => {
    it('gives the owner a WebSocket URL and a token for that simulation that expires after ACCESS_TOKEN_TTL_S', async () => {
      const id = await running();
      const before = Date.now();
      const access = await accessFor(id, alice);
      expect(access.url).toBe(`${gateway.base.replace('http', 'ws')}/simulations/${id}/connect`);
      expect(access.connectUrl).toBe(`${access.url}?token=${access.token}`);
      const lifetime = Date.parse(access.expiresAt) - before;
      expect(lifetime).toBeGreaterThan(110_000);
      expect(lifetime).toBeLessThanOrEqual(121_000);
    });

    it("hides another owner's simulation as 404, gives an admin access, and refuses while it is not Running", async () => {
      const id = await running();
      expect((await call('GET', `/simulations/${id}/access`, bob)).status).toBe(404);
      expect((await call('GET', `/simulations/${id}/access`)).status).toBe(401);
      const adminAccess = await accessFor(id, admin);
      const socket = await openSocket(adminAccess.connectUrl);
      socket.close();

      await exec(id, 'RequestStop', { reason: 'user' }, { subject: 'alice', roles: [] });
      const refused = await call('GET', `/simulations/${id}/access`, alice);
      expect(refused.status).toBe(409);
      expect(refused.json.message).toMatch(/is ToBeTerminated.*while it is Running/);
      expect((await call('GET', '/simulations/Not_An_Id/access', alice)).status).toBe(400);
    });

    it('an access token is no API token, and an API token opens no simulator', async () => {
      const id = await running();
      const { token: accessToken, url } = await accessFor(id, alice);
      const asBearer = await call('GET', `/simulations/${id}`, accessToken);
      expect(asBearer.status).toBe(401);
      const withApiToken = await refusalOf(`${url}?token=${alice}`);
      expect(withApiToken).toEqual({ status: 401, body: expect.objectContaining({ message: 'invalid access token' }) });
    });
  });

  describe('WebSocket connections', () => {
    it('carry messages both ways (text as text, binary as binary) and the simulator sees no token', async () => {
      const id = await running();
      const { connectUrl } = await accessFor(id, alice);
      const socket = await openSocket(connectUrl, ['gz.v1']);
      expect(socket.protocol).toBe('gz.v1');
      const reply = nextMessage(socket);
      socket.send('hello');
      expect(await reply).toEqual({ data: 'echo: hello', binary: false });
      const binaryReply = nextMessage(socket);
      socket.send(Buffer.from([1, 2, 3]), { binary: true });
      expect(await binaryReply).toEqual({ data: Buffer.from([1, 2, 3]).toString(), binary: true });
      const upgrade = simulator.seen.filter((s) => s.method === 'WS').at(-1);
      expect(upgrade?.url).toBe('/');
      expect(upgrade?.headers['authorization']).toBeUndefined();
      socket.close();
    });

    it('deliver a large volume whole and in order', async () => {
      const id = await running();
      const socket = await openSocket((await accessFor(id, alice)).connectUrl);
      const chunk = 'x'.repeat(256 * 1024);
      const count = 80; // 20 MiB, five times the high-water mark
      const received: string[] = [];
      const all = new Promise<void>((resolve) =>
        socket.on('message', (data) => {
          received.push(data.toString().slice(0, 12));
          if (received.length === count) resolve();
        }),
      );
      for (let i = 0; i < count; i++) socket.send(`${String(i).padStart(4, '0')}${chunk}`);
      await all;
      expect(received).toEqual(Array.from({ length: count }, (_, i) => `echo: ${String(i).padStart(4, '0')}xx`));
      socket.close();
    }, 60_000);

    it('stop reading from a client while the simulator does not keep up, and go on when it does', async () => {
      const id = await running();
      const accepted = new Promise<WebSocket>((resolve) => simulator.sockets.once('connection', resolve));
      const socket = await openSocket((await accessFor(id, alice)).connectUrl);
      const upstream = await accepted;
      upstream.pause();
      const megabyte = 'y'.repeat(1024 * 1024);
      const count = 40;
      let echoed = 0;
      const allEchoed = new Promise<void>((resolve) => socket.on('message', () => ++echoed === count && resolve()));
      for (let i = 0; i < count; i++) socket.send(megabyte);
      // What the gateway does not read stays with the client: it settles far above zero instead of draining.
      let last = -1;
      let steady = 0;
      await waitFor(
        () => {
          const now = socket.bufferedAmount;
          steady = now === last ? steady + 1 : 0;
          last = now;
          return steady >= 10;
        },
        { timeoutMs: 20_000, intervalMs: 50, description: "the client's send buffer to settle" },
      );
      expect(last).toBeGreaterThan(16 * 1024 * 1024);
      upstream.resume();
      await allEchoed;
      expect(socket.bufferedAmount).toBe(0);
      socket.close();
    }, 60_000);

    it('refuses a missing, wrong, expired or other simulation\'s token, and a simulation that is not Running', async () => {
      const id = await running();
      const other = await running('bob');
      const { url } = await accessFor(id, alice);
      const { token: bobsToken } = await accessFor(other, bob);

      expect(await refusalOf(url)).toMatchObject({ status: 401, body: { message: expect.stringMatching(/access token is required/) } });
      expect(await refusalOf(`${url}?token=not-a-jwt`)).toMatchObject({ status: 401, body: { message: 'invalid access token' } });
      const forged = await new SignJWT({ purpose: 'simulator-access', sim: id })
        .setProtectedHeader({ alg: 'HS256', typ: 'simdeploy-access+jwt' })
        .setIssuer('simdeploy-gateway')
        .setAudience('simdeploy:simulator-access')
        .setSubject('alice')
        .setExpirationTime('5m')
        .sign(new TextEncoder().encode(SECRET));
      expect(await refusalOf(`${url}?token=${forged}`)).toMatchObject({ status: 401, body: { message: 'invalid access token' } });

      const anHourAgo: Clock = { now: () => new Date(Date.now() - 3_600_000) };
      const expired = await new AccessTokens(gateway.config, anHourAgo).issue({ subject: 'alice', roles: [], isAdmin: false }, id);
      expect(await refusalOf(`${url}?token=${expired.token}`)).toMatchObject({ status: 401, body: { message: expect.stringMatching(/expired/) } });

      expect(await refusalOf(`${url}?token=${bobsToken}`)).toMatchObject({ status: 403, body: { message: 'the access token is for another simulation' } });

      const { token: aliceToken } = await accessFor(id, alice);
      await exec(id, 'RequestStop', { reason: 'user' }, { subject: 'alice', roles: [] });
      expect(await refusalOf(`${url}?token=${aliceToken}`)).toMatchObject({ status: 409, body: { message: expect.stringMatching(/ToBeTerminated, not Running/) } });
    });

    it('answers 503 while the simulator has no address and 502 when it refuses the connection', async () => {
      const id = await running();
      const { connectUrl } = await accessFor(id, alice);
      runtime.endpoints.delete(id);
      expect(await refusalOf(connectUrl)).toMatchObject({ status: 503 });
      runtime.endpoints.set(id, 'http://127.0.0.1:1');
      expect(await refusalOf(connectUrl)).toMatchObject({ status: 502, body: { message: 'the simulator did not accept the connection' } });
    });

    it('are closed when the simulation stops, with the close code for it', async () => {
      const id = await running();
      const socket = await openSocket((await accessFor(id, alice)).connectUrl);
      const upstreamGone = new Promise<void>((resolve) => simulator.sockets.once('connection', (s) => s.once('close', () => resolve())));
      const second = await openSocket((await accessFor(id, alice)).connectUrl);
      const whenClosed = [closed(socket), closed(second)];
      await exec(id, 'RequestStop', { reason: 'user' }, { subject: 'alice', roles: [] });
      const expected = { code: SIMULATION_STOPPED_CLOSE_CODE, reason: 'the simulation is ToBeTerminated' };
      expect(await Promise.all(whenClosed)).toEqual([expected, expected]);
      await upstreamGone;
    });

    it('pass a close from either side to the other, with its code and reason', async () => {
      const id = await running();
      const accepted = new Promise<WebSocket>((resolve) => simulator.sockets.once('connection', resolve));
      const socket = await openSocket((await accessFor(id, alice)).connectUrl);
      const upstream = await accepted;
      const clientSees = closed(socket);
      upstream.close(1011, 'simulator gone');
      expect(await clientSees).toEqual({ code: 1011, reason: 'simulator gone' });

      const acceptedAgain = new Promise<WebSocket>((resolve) => simulator.sockets.once('connection', resolve));
      const again = await openSocket((await accessFor(id, alice)).connectUrl);
      const upstreamSees = closed(await acceptedAgain);
      again.close(4321, 'bye');
      expect(await upstreamSees).toEqual({ code: 4321, reason: 'bye' });
    });

    it('survive bad upgrades: a path that is not a simulator, a handshake that is not WebSocket, a client that hangs up midway', async () => {
      const id = await running();
      const { connectUrl } = await accessFor(id, alice);
      expect(await refusalOf(`${gateway.base.replace('http', 'ws')}/simulations`)).toMatchObject({ status: 404 });

      const notWebSocket = await new Promise<number | undefined>((resolve, reject) => {
        const r = httpRequest(`${gateway.base}/simulations/${id}/connect`, { headers: { connection: 'upgrade', upgrade: 'h2c' } });
        r.on('response', (response) => resolve(response.statusCode));
        r.on('error', reject);
        r.end();
      });
      expect(notWebSocket).toBe(400);

      // Half a handshake, then a reset.
      await new Promise<void>((resolve) => {
        const socket = tcpConnect(Number(new URL(gateway.base).port), '127.0.0.1', () => {
          socket.write(`GET /simulations/${id}/connect?token=x HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n`);
          socket.resetAndDestroy();
          resolve();
        });
      });
      const socket = await openSocket(connectUrl);
      const reply = nextMessage(socket);
      socket.send('still here');
      expect((await reply).data).toBe('echo: still here');
      socket.close();
    });
  });

  describe('plain HTTP', () => {
    it('goes to the same path below the simulator, with the body, without the token or the caller’s credentials', async () => {
      const id = await running();
      const { url, token: accessToken } = await accessFor(id, alice);
      const httpUrl = url.replace(/^ws/, 'http');
      const response = await fetch(`${httpUrl}/world/state?detail=1&token=${accessToken}`, {
        method: 'POST',
        headers: { 'content-type': 'text/plain', authorization: `Bearer ${alice}`, cookie: 'session=1' },
        body: 'pause',
      });
      expect(response.status).toBe(201);
      expect(response.headers.get('x-simulator')).toBe('yes');
      expect(await response.json()).toEqual({ got: 'pause' });
      const seen = simulator.seen.at(-1);
      expect(seen).toMatchObject({ method: 'POST', url: '/world/state?detail=1', body: 'pause' });
      expect(seen?.headers['authorization']).toBeUndefined();
      expect(seen?.headers['cookie']).toBeUndefined();

      const refused = await fetch(`${httpUrl}?token=${alice}`);
      expect(refused.status).toBe(401);
      expect(await refused.json()).toMatchObject({ statusCode: 401, message: 'invalid access token' });
    });
  });

  describe('GET /simulations/:id/logs', () => {
    it('reads a pod while it runs, the archive after the cleanup kept it, and checks pod and tail', async () => {
      const id = await running();
      const simulatorPod = `sim-${id}-gzserver`;
      runtime.logs.set(`${id}/${simulatorPod}`, ['line 1', 'line 2', 'line 3']);

      const live = await call('GET', `/simulations/${id}/logs?tail=2`, alice);
      expect(live.status).toBe(200);
      expect(live.json).toMatchObject({ deploymentId: id, pod: simulatorPod, source: 'runtime', lines: ['line 2', 'line 3'] });
      expect(live.json.pods).toContain(simulatorPod);
      const robotPod = live.json.pods.find((p: string) => p !== simulatorPod);
      expect((await call('GET', `/simulations/${id}/logs?pod=${robotPod}`, alice)).json).toMatchObject({ pod: robotPod, source: 'runtime', lines: [] });

      expect((await call('GET', `/simulations/${id}/logs`, bob)).status).toBe(404);
      const foreign = await call('GET', `/simulations/${id}/logs?pod=sim-${randomUUID()}-gzserver`, alice);
      expect(foreign.status).toBe(400);
      expect(foreign.json.message).toMatch(/is not a pod of simulation/);
      expect((await call('GET', `/simulations/${id}/logs?pod=../../etc`, alice)).status).toBe(400);
      for (const tail of ['0', '10001', 'many']) {
        const bad = await call('GET', `/simulations/${id}/logs?tail=${tail}`, alice);
        expect(bad.status).toBe(400);
        expect(JSON.stringify(bad.json.message)).toMatch(/tail/);
      }

      await exec(id, 'RequestStop', { reason: 'user' }, { subject: 'alice', roles: [] });
      await exec(id, 'StartDeletingPods', {});
      await archive.store(id, simulatorPod, ['archived 1', 'archived 2']);
      await exec(id, 'RecordLogsArchived', { location: `memory://${id}`, pods: [simulatorPod] });
      await exec(id, 'RecordWorkloadDeleted', {});
      runtime.logs.clear();
      const archived = await call('GET', `/simulations/${id}/logs`, alice);
      expect(archived.json).toMatchObject({ source: 'archive', lines: ['archived 1', 'archived 2'] });
      expect((await call('GET', `/simulations/${id}/logs?pod=${robotPod}`, admin)).json).toMatchObject({ source: 'none', lines: [] });
    });
  });

  it('describes the access and logs endpoints in the OpenAPI document', async () => {
    const { json } = await call('GET', '/docs-json');
    expect(json.paths['/simulations/{id}/access'].get.responses['200'].content['application/json'].schema).toEqual({ $ref: '#/components/schemas/SimulationAccessDto' });
    const logs = json.paths['/simulations/{id}/logs'].get;
    expect(logs.parameters.map((p: { name: string }) => p.name).sort()).toEqual(['id', 'pod', 'tail']);
    expect(json.components.schemas.SimulationLogsDto.properties.source.enum).toEqual(['runtime', 'archive', 'none']);
  });

  it('closing the gateway closes its connections (1001) instead of waiting for them', async () => {
    const id = await running();
    const socket = await openSocket((await accessFor(id, alice)).connectUrl);
    const whenClosed = closed(socket);
    await gateway.app.close();
    expect((await whenClosed).code).toBe(1001);
    gateway = { ...gateway, app: { close: async () => undefined } as never };
  });
});
