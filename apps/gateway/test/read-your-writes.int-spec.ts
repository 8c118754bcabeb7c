import { promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitFor } from '@simdeploy/testing';
import { TestGateway, startTestGateway, token } from './support/test-gateway';

const spec = { world: 'worlds/ryw.sdf', image: 'gazebo/gz-sim:harmonic', robots: [], nodeInstanceType: 'c5.large' };

const call = async (base: string, method: string, path: string, auth: string, body?: unknown) => {
  const response = await fetch(`${base}${path}`, {
    method,
    headers: { authorization: `Bearer ${auth}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: response.status, json: (await response.json().catch(() => undefined)) as any };
};

/**
 * Two gateways over one SQLite read model: the first projects, the second does not. Once the
 * first is gone nothing projects, the worst a lagging projection can be.
 */
describe('a caller reads their own write to a simulation while the projection lags', () => {
  let projecting: TestGateway;
  let serving: TestGateway;
  let dir: string;
  let alice: string;

  beforeAll(async () => {
    dir = await fs.mkdtemp(join(tmpdir(), 'simdeploy-ryw-'));
    const readModel = `sqlite:${join(dir, 'read-model.sqlite')}`;
    projecting = await startTestGateway('RYW', { env: { READ_MODEL_URL: readModel } });
    serving = await startTestGateway('RYW', {
      env: {
        READ_MODEL_URL: readModel,
        READ_MODEL_PROJECTOR: 'false',
        READ_YOUR_WRITES_MS: '300',
        EVENTS_STREAM: projecting.config.EVENTS_STREAM,
        EVENTS_SUBJECT_PREFIX: projecting.config.EVENTS_SUBJECT_PREFIX,
        COMMANDS_STREAM: projecting.config.COMMANDS_STREAM,
        COMMANDS_SUBJECT_PREFIX: projecting.config.COMMANDS_SUBJECT_PREFIX,
      },
    });
    alice = await token('alice');
  }, 60_000);

  afterAll(async () => {
    await serving?.stopApp();
    await projecting?.close();
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('a GET after a stop shows the stop, not the projection from before it', async () => {
    const launched = await call(serving.base, 'POST', '/simulations', alice, spec);
    expect(launched.status).toBe(202);
    const id = launched.json.id as string;
    await waitFor(async () => (await call(projecting.base, 'GET', '/simulations?limit=100', alice)).json.items.some((s: { id: string }) => s.id === id), {
      timeoutMs: 10_000,
      description: 'the launch projected',
    });
    await projecting.stopApp();

    const stopped = await call(serving.base, 'POST', `/simulations/${id}/stop`, alice);
    expect(stopped.status).toBe(202);
    expect(stopped.json.status).not.toBe('Pending');
    const read = await call(serving.base, 'GET', `/simulations/${id}`, alice);
    expect(read.status).toBe(200);
    expect(read.json).toMatchObject({ id, status: stopped.json.status, stop: { by: 'alice' } });

    // Answering from the stream keeps the owner check: nobody else sees it.
    expect((await call(serving.base, 'GET', `/simulations/${id}`, await token('mallory'))).status).toBe(404);
  }, 60_000);
});
