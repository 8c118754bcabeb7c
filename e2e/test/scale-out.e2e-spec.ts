import { waitFor } from '@simdeploy/testing';
import { checkLegalSequence } from './support/legal-sequence';
import { scrape } from './support/metrics';
import { Api, RunningSystem, api, processesOf, startSystem } from './support/system';

/**
 * Three launcher and two terminator replicas as processes (tools/start.mjs --replicas) share
 * their consumers: 200 lifecycles complete, every replica does some of the work, one launcher
 * replica is killed with SIGKILL in the middle (start.mjs restarts it, as a supervisor would),
 * and no deployment has a step done twice.
 */
const TOTAL = 200;
const BATCH = 25;
const LIGHT_SIMULATOR = JSON.stringify(['sh', '-c', 'touch "$SIMDEPLOY_READY_FILE"; exec sleep 100000']);
const simulation = { world: 'worlds/scale.sdf', image: 'gazebo/gz-sim:harmonic', robots: [], nodeInstanceType: 'c5.large' };
const LAUNCHERS = ['launcher', 'launcher-2', 'launcher-3'];
const TERMINATORS = ['terminator', 'terminator-2'];
const VICTIM = 'launcher-2';

async function inBatches<T>(items: readonly T[], run: (item: T) => Promise<void>): Promise<void> {
  for (let i = 0; i < items.length; i += BATCH) await Promise.all(items.slice(i, i + BATCH).map(run));
}

describe('scale-out: several replicas of each worker', () => {
  let system: RunningSystem;
  let user: Api;

  beforeAll(async () => {
    system = await startSystem(
      { LOCAL_BOOT_DELAY_MS: '200', ACK_WAIT_MS: '3000', SIMULATOR_COMMAND: LIGHT_SIMULATOR },
      { args: ['--replicas', 'launcher=3,terminator=2'] },
    );
    user = api(system.url, await system.token('scale-user'));
  }, 90_000);

  afterAll(async () => {
    await system?.stop();
  }, 60_000);

  it(`${TOTAL} lifecycles complete over 3 launchers and 2 terminators, one launcher killed mid-run, nothing done twice`, async () => {
    expect(Object.keys(system.metrics)).toEqual(expect.arrayContaining([...LAUNCHERS, ...TERMINATORS]));
    const ids: string[] = [];
    const count = async (status: string) => (await user('GET', `/simulations?status=${status}&limit=1`)).json.total as number;

    let victimAcked = 0;
    const kill = (async () => {
      // Mid-run: once the victim has done some launches, and while many are still to come.
      victimAcked = await waitFor(async () => (await scrape(system.metrics[VICTIM] as string)).value('simdeploy_commands_acked_total', { kind: 'launch' }), {
        timeoutMs: 60_000,
        intervalMs: 100,
        description: `${VICTIM} acked a launch`,
      });
      process.kill(system.pids[VICTIM] as number, 'SIGKILL');
    })();

    await inBatches(
      Array.from({ length: TOTAL }, (_, i) => i),
      async () => {
        const launched = await user('POST', '/simulations', simulation);
        expect(launched.status).toBe(202);
        ids.push(launched.json.id);
      },
    );
    await kill;
    const killedAt = await count('Running');
    expect(killedAt).toBeLessThan(TOTAL);

    await waitFor(async () => (await count('Running')) === TOTAL, { timeoutMs: 90_000, intervalMs: 500, description: `${TOTAL} Running` });
    await inBatches(ids, async (id) => {
      expect((await user('POST', `/simulations/${id}/stop`)).status).toBe(202);
    });
    await waitFor(async () => (await count('Terminated')) === TOTAL, { timeoutMs: 90_000, intervalMs: 500, description: `${TOTAL} Terminated` });

    // Every replica did some of the work (the victim before it died; its successor's counters start again).
    const acked = async (name: string, kind: string) => (await scrape(system.metrics[name] as string)).value('simdeploy_commands_acked_total', { kind });
    expect(victimAcked).toBeGreaterThan(0);
    for (const name of LAUNCHERS.filter((n) => n !== VICTIM)) expect(await acked(name, 'launch')).toBeGreaterThan(0);
    for (const name of TERMINATORS) expect(await acked(name, 'terminate')).toBeGreaterThan(0);

    // Nothing duplicated: one instance per planned node, one Running, one Terminated, a legal history.
    const problems: string[] = [];
    await inBatches(ids, async (id) => {
      const { json: events } = await user('GET', `/simulations/${id}/events`);
      const types = (events as { type: string }[]).map((e) => e.type);
      const times = (type: string) => types.filter((t) => t === type).length;
      const planned = (events as { type: string; data: { nodes?: unknown[] } }[]).find((e) => e.type === 'NodesLaunchStarted')?.data.nodes?.length;
      if (times('InstanceLaunched') !== planned) problems.push(`${id}: ${times('InstanceLaunched')} instances for ${planned} planned nodes`);
      for (const type of ['SimulationRunning', 'WorkloadCreated', 'SimulationTerminated']) if (times(type) !== 1) problems.push(`${id}: ${type} ${times(type)} times`);
      problems.push(...checkLegalSequence(events).problems.map((p) => `${id}: ${p}`));
    });
    expect(problems).toEqual([]);
    await waitFor(() => processesOf(ids).length === 0, { timeoutMs: 15_000, description: 'no pod process left' });
  }, 240_000);
});
