import { LocalNodeProvider, LocalPodRuntime } from '@simdeploy/cloud';
import { waitFor } from '@simdeploy/testing';
import { SignJWT, decodeJwt } from 'jose';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { WebSocket } from 'ws';
import { Api, RunningSystem, api, processesOf, startSystem } from './support/system';

const ACCESS_TOKEN_SECRET = 'e2e-access-secret-with-at-least-32-chars';
const simulation = { world: 'worlds/warehouse.sdf', image: 'gazebo/gz-sim:harmonic', robots: [{ name: 'r0', image: 'acme/robot:1' }], nodeInstanceType: 'g4dn.xlarge' };

interface Access {
  url: string;
  token: string;
  expiresAt: string;
  connectUrl: string;
}

/** The WebSocket, or the HTTP status the gateway refused it with. */
const connect = (url: string): Promise<WebSocket> =>
  new Promise((resolve, reject) => {
    const socket = new WebSocket(url);
    socket.once('open', () => resolve(socket));
    socket.once('unexpected-response', (_request, response) => {
      response.resume();
      reject(Object.assign(new Error(`refused: ${response.statusCode}`), { status: response.statusCode }));
    });
    socket.once('error', reject);
  });

const refusedWith = (url: string): Promise<number> =>
  connect(url).then(
    (socket) => {
      socket.terminate();
      throw new Error(`${url} opened`);
    },
    (error: { status?: number }) => {
      if (error.status === undefined) throw error;
      return error.status;
    },
  );

describe('reaching a running simulator through the gateway, and its logs after it died', () => {
  let system: RunningSystem;
  let alice: Api;
  let bob: Api;

  beforeAll(async () => {
    system = await startSystem({ HEALTH_POLL_MS: '200', ACCESS_CHECK_INTERVAL_MS: '200', ACCESS_TOKEN_SECRET });
    alice = api(system.url, await system.token('alice'));
    bob = api(system.url, await system.token('bob'));
  }, 90_000);

  afterAll(async () => {
    await system?.stop();
  }, 60_000);

  const running = async (who: Api): Promise<string> => {
    const launched = await who('POST', '/simulations', simulation);
    expect(launched.status).toBe(202);
    const id = launched.json.id as string;
    await waitFor(
      async () => {
        const { json } = await who('GET', `/simulations/${id}`);
        if (json.errorStatus) throw new Error(`launch failed: ${JSON.stringify(json.failure)}`);
        return json.status === 'Running';
      },
      { timeoutMs: 60_000, intervalMs: 200, description: `${id} Running` },
    );
    return id;
  };

  it('exchanges messages with the simulator, refuses bad tokens, and when the simulator dies stops by itself with the reason, logs kept, nothing left', async () => {
    const [id, bobsId] = await Promise.all([running(alice), running(bob)]);

    const granted = await alice('GET', `/simulations/${id}/access`);
    expect(granted.status).toBe(200);
    const access = granted.json as Access;
    expect(access.url).toBe(`${system.url.replace('http', 'ws')}/simulations/${id}/connect`);

    const socket = await connect(access.connectUrl);
    const closed = new Promise<number>((resolve) => socket.once('close', (code) => resolve(code)));
    const answer = new Promise<string>((resolve) => socket.once('message', (data) => resolve(data.toString())));
    socket.send('hello simulator');
    expect(await answer).toBe('echo: hello simulator');

    // Refused: a token that is none, an expired one, bob's for his own simulation, bob's API token; bob cannot ask for alice's.
    expect(await refusedWith(`${access.url}?token=not-a-token`)).toBe(401);
    const claims = decodeJwt(access.token);
    const expired = await new SignJWT({ ...claims, exp: Math.floor(Date.now() / 1000) - 60 })
      .setProtectedHeader({ alg: 'HS256', typ: 'simdeploy-access+jwt' })
      .sign(new TextEncoder().encode(ACCESS_TOKEN_SECRET));
    expect(await refusedWith(`${access.url}?token=${expired}`)).toBe(401);
    const bobsAccess = (await bob('GET', `/simulations/${bobsId}/access`)).json as Access;
    expect(await refusedWith(`${access.url}?token=${bobsAccess.token}`)).toBe(403);
    expect(await refusedWith(`${access.url}?token=${await system.token('bob')}`)).toBe(401);
    expect((await bob('GET', `/simulations/${id}/access`)).status).toBe(404);
    expect((await bob('GET', `/simulations/${id}/logs`)).status).toBe(404);

    const live = await alice('GET', `/simulations/${id}/logs?tail=50`);
    expect(live.json).toMatchObject({ source: 'runtime', pod: `sim-${id}-gzserver` });
    expect(live.json.lines).toContain('echo: hello simulator');

    // The simulator dies under the user.
    const record = JSON.parse(readFileSync(join(system.stateDir, 'local', 'workloads', id, 'pods', `sim-${id}-gzserver.json`), 'utf8')) as { pid: number };
    process.kill(record.pid, 'SIGKILL');
    expect([1011, 4000]).toContain(await closed);

    const view = await waitFor(
      async () => {
        const { json } = await alice('GET', `/simulations/${id}`);
        return json.status === 'Terminated' ? json : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 200, description: `${id} Terminated after its simulator died` },
    );
    expect(view.errorStatus).toBeNull();
    expect(view.stop).toMatchObject({ reason: 'workload-failed' });
    expect(view.workloadFailure).toMatchObject({ code: 'PodExited', message: expect.stringContaining('SIGKILL') });
    const types = ((await alice('GET', `/simulations/${id}/events`)).json as { type: string }[]).map((e) => e.type);
    expect(types).toEqual(expect.arrayContaining(['WorkloadFailed', 'StopRequested', 'LogsArchived']));
    expect((await alice('GET', `/simulations/${id}/access`)).status).toBe(409);

    const archived = await alice('GET', `/simulations/${id}/logs?tail=50`);
    expect(archived.json).toMatchObject({ source: 'archive', pod: `sim-${id}-gzserver` });
    expect(archived.json.lines).toContain('echo: hello simulator');

    // Nothing left of it: no pod process, no machine, no workload.
    const stateDir = join(system.stateDir, 'local');
    expect(processesOf([id])).toEqual([]);
    expect((await new LocalNodeProvider({ stateDir }).listManagedInstances()).filter((i) => i.deploymentId === id)).toEqual([]);
    expect((await new LocalPodRuntime({ stateDir }).listManagedWorkloads()).filter((w) => w.deploymentId === id)).toEqual([]);

    // Bob's simulation ran on, untouched.
    expect((await bob('GET', `/simulations/${bobsId}`)).json.status).toBe('Running');
  }, 150_000);
});
