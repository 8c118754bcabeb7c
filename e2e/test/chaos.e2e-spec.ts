import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { LocalNodeProvider, LocalPodRuntime } from '@simdeploy/cloud';
import { waitFor } from '@simdeploy/testing';
import { checkLegalSequence } from './support/legal-sequence';
import { Api, RunningSystem, api, processesOf, startSystem } from './support/system';

/**
 * Launches and stops 200 simulations while killing service processes (kill -9) at random
 * moments and restarting nats-server once. tools/start.mjs restarts what dies, as an
 * operator's supervisor would. Every deployment must end where its requests say, with no
 * instance or pod created twice and nothing left behind.
 */
const TOTAL = 200;
const SERVICES = ['gateway', 'launcher', 'terminator', 'error-handler'] as const;
const LIGHT_SIMULATOR = JSON.stringify(['sh', '-c', 'touch "$SIMDEPLOY_READY_FILE"; exec sleep 100000']);

const simulation = {
  world: 'worlds/chaos.sdf',
  image: 'gazebo/gz-sim:harmonic',
  robots: [],
  nodeInstanceType: 'c5.large',
};

/** Retries a request through gateway restarts; an answer (any status) ends it. */
async function persist(call: () => Promise<{ status: number; json: any }>, deadlineMs = 60_000) {
  const deadline = Date.now() + deadlineMs;
  for (;;) {
    try {
      const answer = await call();
      if (answer.status < 500) return answer;
    } catch (error) {
      if (Date.now() > deadline) throw error;
    }
    if (Date.now() > deadline) throw new Error('the gateway did not answer in time');
    await new Promise((r) => setTimeout(r, 100));
  }
}

const randomBetween = (min: number, max: number) => min + Math.random() * (max - min);

describe('chaos', () => {
  let system: RunningSystem;
  let client: Api;
  let admin: Api;

  beforeAll(async () => {
    system = await startSystem(
      {
        LOCAL_BOOT_DELAY_MS: '300',
        ACK_WAIT_MS: '2000',
        RECONCILE_INTERVAL_MS: '1000',
        PROVIDER_RETRY_BASE_MS: '50',
        SIMULATOR_COMMAND: LIGHT_SIMULATOR,
      },
      { ownNats: true },
    );
    client = api(system.url, await system.token('chaos-user'));
    admin = api(system.url, await system.token('chaos-admin', ['admin']));
  }, 90_000);

  afterAll(async () => {
    await system?.stop();
  }, 60_000);

  it('200 launches and stops under kill -9 of every service and a nats-server restart end as requested, nothing orphaned', async () => {
    try {
      await run();
    } catch (error) {
      // On a failure, the services' own account of it is the first thing to read.
      process.stderr.write(`last lines of the system's output:\n${system.log.slice(-300).join('\n')}\n`);
      throw error;
    }
  }, 180_000);

  async function run(): Promise<void> {
    const started = Date.now();
    const kills: Record<string, number> = { gateway: 0, launcher: 0, terminator: 0, 'error-handler': 0, 'nats-server': 0 };
    const pids = (): Record<string, number> => JSON.parse(readFileSync(join(system.stateDir, 'pids.json'), 'utf8'));
    const kill = (name: string) => {
      try {
        process.kill(pids()[name], 'SIGKILL');
        kills[name] += 1;
      } catch {
        // already gone and being restarted
      }
    };

    let chaosOn = true;
    let roundsDone = 0;
    // Random moments; the victims go round in a shuffled order, so every service dies in every
    // round. Chaos lasts at least one whole round, however fast the launches and stops go.
    const chaos = (async () => {
      while (chaosOn || roundsDone === 0) {
        const order = [...SERVICES].sort(() => Math.random() - 0.5);
        for (const service of order) {
          await new Promise((r) => setTimeout(r, randomBetween(1500, 3500)));
          if (!chaosOn && roundsDone > 0) break;
          kill(service);
        }
        roundsDone += 1;
      }
    })();

    // Launch in waves; stop three in four at a random moment after their launch.
    const ids: string[] = [];
    const stopRequested = new Set<string>();
    const stops: Promise<unknown>[] = [];
    for (let wave = 0; wave < TOTAL / 20; wave++) {
      // Half-way, with launches and stops in flight: nats-server dies and is restarted.
      if (wave === TOTAL / 40) kill('nats-server');
      const answers = await Promise.all(
        Array.from({ length: 20 }, () => {
          // Retried through gateway kills and the NATS restart with one key: launched once.
          const headers = { 'idempotency-key': randomUUID() };
          return persist(() => client('POST', '/simulations', simulation, headers));
        }),
      );
      for (const answer of answers) {
        expect(answer.status).toBe(202);
        const id = answer.json.id as string;
        ids.push(id);
        if (Math.random() < 0.75) {
          stops.push(
            new Promise((r) => setTimeout(r, randomBetween(0, 4000))).then(async () => {
              stopRequested.add(id);
              const r = await persist(() => client('POST', `/simulations/${id}/stop`));
              expect(r.status).toBe(202);
            }),
          );
        }
      }
      await new Promise((r) => setTimeout(r, 500));
    }
    await Promise.all(stops);
    await new Promise((r) => setTimeout(r, 2000));
    chaosOn = false;
    await chaos;

    // What the requests call for: stopped ones Terminated, the others Running.
    const everything = async () => (await persist(() => admin('GET', '/simulations?limit=500'))).json.items as any[];
    const expectedStatus = (s: { id: string }) => (stopRequested.has(s.id) ? 'Terminated' : 'Running');
    await waitFor(
      async () => {
        const all = await everything();
        const failed = all.find((s) => s.errorStatus !== null);
        if (failed) throw new Error(`a deployment failed under chaos: ${JSON.stringify(failed)}`);
        return all.length >= ids.length && all.every((s) => s.status === expectedStatus(s));
      },
      { timeoutMs: 90_000, intervalMs: 500, description: 'every deployment where its requests put it' },
    );
    const settled = await everything();
    const unknownToClient = settled.filter((s) => !ids.includes(s.id));

    // Identity: one instance per planned node, whatever was redelivered or retried.
    const nodes = new LocalNodeProvider({ stateDir: join(system.stateDir, 'local') });
    const running = settled.filter((s) => s.status === 'Running');
    const instances = await nodes.listManagedInstances();
    const perDeployment = new Map<string, number>();
    for (const i of instances) perDeployment.set(i.deploymentId ?? '?', (perDeployment.get(i.deploymentId ?? '?') ?? 0) + 1);
    const duplicatedInstances = [...perDeployment.values()].filter((n) => n > 1).length;
    const pods = await new LocalPodRuntime({ stateDir: join(system.stateDir, 'local') }).listManagedWorkloads();
    // One simulator pod per deployment is planned (no robots): any other pod would be a second identity.
    const duplicatedPods = pods.filter((w) => w.pods.length > 1).length;

    // Now stop the rest and check nothing is left anywhere.
    await Promise.all(running.map((s) => persist(() => admin('POST', `/simulations/${s.id}/stop`))));
    await waitFor(async () => (await everything()).every((s) => s.status === 'Terminated'), {
      timeoutMs: 60_000,
      intervalMs: 500,
      description: 'every deployment Terminated',
    });
    const orphanInstances = await nodes.listManagedInstances();
    const allIds = settled.map((s) => s.id);
    await waitFor(() => processesOf(allIds).length === 0, { timeoutMs: 15_000, description: 'no pod process left' });
    const orphanWorkloads = (await new LocalPodRuntime({ stateDir: join(system.stateDir, 'local') }).listManagedWorkloads()).filter(
      (w) => w.pods.length > 0,
    );

    let illegal = 0;
    for (const s of settled) {
      const { json: events } = await persist(() => admin('GET', `/simulations/${s.id}/events`));
      const { problems } = checkLegalSequence(events);
      if (problems.length > 0) illegal += 1;
      const tokens = new Map<string, Set<string>>();
      for (const e of events.filter((x: { type: string }) => x.type === 'InstanceLaunched')) {
        const key = `${e.data.role}/${e.data.index}`;
        tokens.set(key, (tokens.get(key) ?? new Set()).add(e.data.instanceId));
      }
      if ([...tokens.values()].some((set) => set.size > 1)) illegal += 1;
    }

    const report = {
      seconds: Math.round((Date.now() - started) / 1000),
      deployments: settled.length,
      launchedByClient: ids.length,
      launchedUnbeknownToClient: unknownToClient.length,
      stoppedDuringChaos: stopRequested.size,
      runningAtCheckpoint: running.length,
      kills,
      duplicatedInstances,
      duplicatedPods,
      illegalOrInconsistentStreams: illegal,
      orphanInstances: orphanInstances.length,
      orphanWorkloads: orphanWorkloads.length,
    };
    process.stdout.write(`chaos report: ${JSON.stringify(report)}\n`);

    expect(settled.length).toBe(TOTAL);
    expect(unknownToClient).toEqual([]);
    expect(kills['nats-server']).toBe(1);
    expect(SERVICES.every((s) => kills[s] > 0)).toBe(true);
    expect(duplicatedInstances).toBe(0);
    expect(duplicatedPods).toBe(0);
    expect(illegal).toBe(0);
    expect(orphanInstances).toEqual([]);
    expect(orphanWorkloads).toEqual([]);
  }
});
