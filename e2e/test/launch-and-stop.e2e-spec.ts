import { waitFor } from '@simdeploy/testing';
import { Api, RunningSystem, api, processesOf, startSystem } from './support/system';
import { checkLegalSequence } from './support/legal-sequence';

const simulation = (robots: number) => ({
  world: 'worlds/warehouse.sdf',
  image: 'gazebo/gz-sim:harmonic',
  robots: Array.from({ length: robots }, (_, i) => ({ name: `r${i}`, image: 'acme/robot:1' })),
  nodeInstanceType: 'g4dn.xlarge',
});

const HAPPY_PATH = [
  'Pending',
  'LaunchingNodes',
  'LaunchingPods',
  'Running',
  'ToBeTerminated',
  'DeletingPods',
  'DeletingNodes',
  'TerminatingInstances',
  'Terminated',
];

describe('launch and stop through the real processes', () => {
  let system: RunningSystem;
  let alice: Api;
  let bob: Api;

  beforeAll(async () => {
    system = await startSystem();
    alice = api(system.url, await system.token('alice'));
    bob = api(system.url, await system.token('bob'));
  }, 90_000);

  afterAll(async () => {
    await system?.stop();
  }, 60_000);

  it('20 launches from two owners reach Running, each owner sees only theirs, all stop and leave nothing behind', async () => {
    const launched = await Promise.all(
      Array.from({ length: 20 }, (_, i) => (i % 2 === 0 ? alice : bob)('POST', '/simulations', simulation(i % 3))),
    );
    expect(launched.map((r) => r.status)).toEqual(Array(20).fill(202));
    expect(launched.every((r) => r.json.status === 'Pending')).toBe(true);
    const ids = launched.map((r) => r.json.id as string);
    const ownerOf = (i: number) => (i % 2 === 0 ? alice : bob);

    await waitFor(
      async () => {
        const views = await Promise.all(ids.map((id, i) => ownerOf(i)('GET', `/simulations/${id}`)));
        const bad = views.find((v) => v.json.errorStatus !== null);
        if (bad) throw new Error(`a launch failed: ${JSON.stringify(bad.json)}`);
        return views.every((v) => v.json.status === 'Running');
      },
      { timeoutMs: 60_000, intervalMs: 200, description: 'all 20 simulations Running' },
    );
    expect(processesOf(ids).length).toBeGreaterThan(0);

    const alicesList = await alice('GET', '/simulations?limit=500');
    const bobsList = await bob('GET', '/simulations?limit=500');
    expect(alicesList.json.items.map((s: { id: string }) => s.id).sort()).toEqual(ids.filter((_, i) => i % 2 === 0).sort());
    expect(bobsList.json.items.map((s: { id: string }) => s.id).sort()).toEqual(ids.filter((_, i) => i % 2 === 1).sort());
    expect((await bob('GET', '/simulations?status=!Running')).json.total).toBe(0);

    const stopped = await Promise.all(ids.map((id, i) => ownerOf(i)('POST', `/simulations/${id}/stop`)));
    expect(stopped.map((r) => r.status)).toEqual(Array(20).fill(202));
    expect(stopped.every((r) => r.json.status === 'ToBeTerminated')).toBe(true);

    await waitFor(
      async () => {
        const views = await Promise.all(ids.map((id, i) => ownerOf(i)('GET', `/simulations/${id}`)));
        return views.every((v) => v.json.status === 'Terminated' && v.json.errorStatus === null);
      },
      { timeoutMs: 60_000, intervalMs: 200, description: 'all 20 simulations Terminated' },
    );
    expect(processesOf(ids)).toEqual([]);

    for (const [i, id] of ids.entries()) {
      const { json: events } = await ownerOf(i)('GET', `/simulations/${id}/events`);
      const { statuses, problems } = checkLegalSequence(events);
      expect(problems).toEqual([]);
      expect(statuses).toEqual(HAPPY_PATH);
      const instances = events.filter((e: { type: string }) => e.type === 'InstanceLaunched');
      expect(instances).toHaveLength(i % 3 === 0 ? 1 : 2);
    }
  }, 180_000);
});
