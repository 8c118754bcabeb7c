/**
 * JetStream event store throughput, every figure from one run against one server.
 *
 * Run:  node bench/run.cjs bench/event-store/jetstream-bench.ts
 * It starts a private nats-server (needs nats-server on PATH, /usr/sbin or $NATS_SERVER_BIN),
 * or uses $NATS_URL when set (then it creates and deletes its own stream there).
 * BENCH_SECONDS sets each phase's length (default 4); the whole run stays under a minute.
 *
 *   (a)  raw JetStream acked publishes, 64 in flight             - the baseline
 *   (b)  adapter appends with expected revision over 1000 streams, 64 in flight
 *   (c1) cold state read of a 10-event deployment (direct get, no cache)
 *   (c2) cached state read (one direct get confirms nothing is new)
 *   (c3) naive read: an ordered consumer created per read
 */
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import {
  command,
  evolve,
  isSimDeploymentEvent,
  type Actor,
  type SimDeploymentCommand,
  type SimDeploymentState,
} from '@simdeploy/domain';
import { JetStreamEventStore } from '@simdeploy/event-store';
import { DeploymentCommandHandler } from '@simdeploy/workflows';
import { startNatsServer, uniqueName } from '@simdeploy/testing';

const WINDOW = 64;
const STREAMS = 1000;
const PHASE_MS = Number(process.env['BENCH_SECONDS'] ?? 4) * 1000;

/** Keeps `window` operations in flight for `durationMs`; returns completed operations per second. */
async function throughput(window: number, durationMs: number, op: (worker: number) => Promise<unknown>): Promise<number> {
  const end = Date.now() + durationMs;
  let done = 0;
  const started = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: window }, async (_, worker) => {
      while (Date.now() < end) {
        await op(worker);
        done++;
      }
    }),
  );
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  return done / seconds;
}

const by: Actor = { subject: 'bench', roles: ['service'] };
const cmd = (type: SimDeploymentCommand['type'], data: object): SimDeploymentCommand =>
  command(type, data as never, { now: new Date().toISOString(), by });

/** The ten events of a deployment that launched, ran and is being torn down. */
const lifecycle = (deploymentId: string): SimDeploymentCommand[] => [
  cmd('RequestLaunch', {
    deploymentId,
    owner: 'bench',
    provider: 'local',
    spec: { world: 'w.sdf', simulatorImage: 'gz:1', robots: [{ name: 'r1', image: 'robot:1' }], nodeInstanceType: 'm5.large', labels: {} },
  }),
  cmd('StartLaunchingNodes', {}),
  cmd('RecordInstance', { role: 'simulator', index: 0, instanceId: 'i-sim', nodeName: 'n-sim' }),
  cmd('RecordInstance', { role: 'robots', index: 0, instanceId: 'i-rob', nodeName: 'n-rob' }),
  cmd('StartLaunchingPods', {}),
  cmd('MarkRunning', {}),
  cmd('RequestStop', { reason: 'user' }),
  cmd('StartDeletingPods', {}),
  cmd('StartDeletingNodes', {}),
  cmd('StartTerminatingInstances', {}),
];

async function main(): Promise<void> {
  const server = process.env['NATS_URL'] ? null : await startNatsServer();
  const nc = await connect({ servers: process.env['NATS_URL'] ?? server?.url });
  const streamName = uniqueName('BENCH');
  const subjectPrefix = uniqueName('bench');
  const store = await JetStreamEventStore.create(nc, { streamName, subjectPrefix });
  const js = jetstream(nc);
  const jsm = await jetstreamManager(nc);
  try {
    const payload = JSON.stringify([{ type: 'Bench', data: { n: 1, text: 'x'.repeat(100) }, metadata: {} }]);
    const raw = await throughput(WINDOW, PHASE_MS, (w) => js.publish(`${subjectPrefix}.raw-${w}`, payload));

    const revisions: (string | null)[] = Array.from({ length: STREAMS }, () => null);
    const cursor = Array.from({ length: WINDOW }, (_, w) => w);
    const appends = await throughput(WINDOW, PHASE_MS, async (w) => {
      // Worker w owns streams w, w+64, ...: no two appends race, yet every one is checked.
      const stream = cursor[w];
      cursor[w] = stream + WINDOW < STREAMS ? stream + WINDOW : w;
      const appended = await store.append(`s-${stream}`, [{ type: 'Bench', data: { n: 1, text: 'x'.repeat(100) } }], revisions[stream] ?? 'no_stream');
      revisions[stream] = appended.nextRevision;
    });

    const id = 'bench-deployment';
    const writer = new DeploymentCommandHandler(store);
    for (const c of lifecycle(id)) await writer.handle(id, c);
    const expected = (await writer.load(id)).state;
    const check = (state: SimDeploymentState) => {
      if (state?.status !== expected?.status) throw new Error(`read ${state?.status}, expected ${expected?.status}`);
    };

    const cold = await throughput(WINDOW, PHASE_MS, async () => check((await new DeploymentCommandHandler(store).load(id)).state));
    const cachedHandler = new DeploymentCommandHandler(store);
    await cachedHandler.load(id);
    const cached = await throughput(WINDOW, PHASE_MS, async () => check((await cachedHandler.load(id)).state));
    const naive = await throughput(WINDOW, PHASE_MS, async () => {
      const consumer = await js.consumers.get(streamName, { filter_subjects: `${subjectPrefix}.${id}` });
      let state: SimDeploymentState = null;
      try {
        for (;;) {
          const m = await consumer.next({ expires: 2000 });
          if (!m) break;
          for (const e of m.json<unknown[]>()) if (isSimDeploymentEvent(e)) state = evolve(state, e);
          if (m.info.pending === 0) break;
        }
      } finally {
        await consumer.delete().catch(() => undefined);
      }
      check(state);
    });

    const row = (label: string, ops: number, ratios: string) =>
      console.log(`${label.padEnd(58)} ${ops.toFixed(0).padStart(8)} ops/s   ${ratios}`);
    const x = (a: number, b: number) => `${(a / b).toFixed(2)}x`;
    console.log(`nats-server at ${process.env['NATS_URL'] ?? server?.url}, ${WINDOW} in flight, ${PHASE_MS / 1000} s per phase`);
    row('(a)  raw JetStream acked publish', raw, '1.00x (a)');
    row(`(b)  adapter append, expected revision, ${STREAMS} streams`, appends, `${x(appends, raw)} (a)`);
    row('(c1) cold state read, 10 events, direct get', cold, `${x(cold, raw)} (a)   ${x(cold, naive)} (c3)`);
    row('(c2) cached state read, one direct get', cached, `${x(cached, raw)} (a)   ${x(cached, naive)} (c3)`);
    row('(c3) naive state read, ordered consumer per read', naive, `${x(naive, raw)} (a)`);
  } finally {
    await store.close();
    await jsm.streams.delete(streamName).catch(() => undefined);
    await nc.close();
    await server?.stop();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
