/**
 * What the simulated provider's records cost a process: DEPLOYMENTS deployments (two machines
 * and a workload of three pods each, as a deployment with one robot has) written to a private
 * bucket on a private nats-server, then the RSS of a fresh process that mirrors them all (what
 * a restarted launcher holds), and how long one batched readiness check of all of them takes
 * there, from memory.
 *
 * Run:  node bench/run.cjs bench/local-runtime/simulated-footprint.ts     (DEPLOYMENTS, default 10000)
 */
import { execFileSync } from 'node:child_process';
import { connect } from '@nats-io/transport-node';
import { clientTokenFor, planNodes, planWorkload, type SimulationSpec } from '@simdeploy/domain';
import { startNatsServer } from '@simdeploy/testing';
import { createSimulatedProviders, simulatedInstanceIdFor, simulatedNodeNameFor } from '../../libs/cloud/src/simulated';

const DEPLOYMENTS = Number(process.env['DEPLOYMENTS'] ?? 10_000);
const BUCKET = 'SIMDEPLOY_FOOTPRINT';
const spec: SimulationSpec = { world: 'empty.sdf', simulatorImage: 'gz-sim:8', robots: [{ name: 'r0', image: 'robot:1' }], nodeInstanceType: 'm5.large', labels: {} };
const ids = Array.from({ length: DEPLOYMENTS }, (_, i) => `footprint-${i}`);
const mb = (bytes: number) => (bytes / 1024 / 1024).toFixed(0);

async function withPool<T>(items: readonly T[], pool: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: pool }, async () => {
    while (next < items.length) await work(items[next++] as T);
  }));
}

/** The fresh process: mirrors the bucket, measures, answers one JSON line. */
async function reader(url: string): Promise<void> {
  const nc = await connect({ servers: url });
  global.gc?.();
  const before = process.memoryUsage().rss;
  const started = Date.now();
  const sim = await createSimulatedProviders(nc, { bucket: BUCKET, bootDelay: { kind: 'fixed', ms: 30_000 }, readyDelay: { kind: 'fixed', ms: 30_000 } });
  const loadedMs = Date.now() - started;
  // Instance ids derive from the client tokens, as the deployments' events would record them.
  const nodeRequests = ids.map((deploymentId) => ({
    deploymentId,
    nodes: planNodes(deploymentId, spec).map((n) => ({
      instanceId: simulatedInstanceIdFor(clientTokenFor(deploymentId, n.role, n.index)),
      nodeName: simulatedNodeNameFor(deploymentId, n.role, n.index),
    })),
  }));
  const checkStarted = Date.now();
  const nodes = await sim.nodes.checkNodesBatch(nodeRequests);
  const pods = await sim.pods.checkWorkloadBatch(ids.map((deploymentId) => ({ deploymentId, pods: planWorkload(deploymentId, spec).pods })));
  const checkMs = Date.now() - checkStarted;
  global.gc?.();
  const rss = process.memoryUsage().rss;
  const answered = [...nodes.values(), ...pods.values()].filter((c) => c.state !== 'failed').length;
  process.stdout.write(`${JSON.stringify({ before, rss, heap: process.memoryUsage().heapUsed, loadedMs, checkMs, answered })}\n`);
  sim.close();
  await nc.close();
}

async function main(): Promise<void> {
  const server = await startNatsServer();
  try {
    const nc = await connect({ servers: server.url });
    const writer = await createSimulatedProviders(nc, { bucket: BUCKET, bootDelay: { kind: 'fixed', ms: 30_000 }, readyDelay: { kind: 'fixed', ms: 30_000 } });
    const started = Date.now();
    await withPool(ids, 200, async (deploymentId) => {
      const nodes = await Promise.all(
        planNodes(deploymentId, spec).map(async (n) => ({
          ...n,
          ...(await writer.nodes.launchNode({ deploymentId, owner: 'bench', role: n.role, index: n.index, clientToken: n.clientToken, instanceType: n.instanceType, labels: {} })),
        })),
      );
      await writer.pods.createWorkload({ deploymentId, owner: 'bench', spec, plan: planWorkload(deploymentId, spec), nodes });
    });
    const writtenMs = Date.now() - started;
    const writerRss = process.memoryUsage().rss;
    writer.close();
    await nc.close();

    const answer = JSON.parse(
      execFileSync(process.execPath, ['--expose-gc', __filename.endsWith('.ts') ? require.resolve('../run.cjs') : __filename, __filename, '--reader', server.url], { encoding: 'utf8', maxBuffer: 16 * 1024 * 1024 }).trim().split('\n').at(-1) as string,
    ) as { before: number; rss: number; heap: number; loadedMs: number; checkMs: number; answered: number };
    console.log(`${DEPLOYMENTS} deployments (2 machines and 3 pods each) written in ${(writtenMs / 1000).toFixed(1)} s by a process now at ${mb(writerRss)} MB RSS`);
    console.log(`a fresh process mirrors them in ${(answer.loadedMs / 1000).toFixed(1)} s: RSS ${mb(answer.before)} MB before, ${mb(answer.rss)} MB after (heap ${mb(answer.heap)} MB)`);
    console.log(`one batched check of all of them (machines, then pods) from its memory: ${answer.checkMs} ms, ${answer.answered} answers`);
  } finally {
    await server.stop();
  }
}

if (process.argv.includes('--reader')) {
  reader(process.argv[process.argv.indexOf('--reader') + 1] as string).catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
} else {
  main().catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
}
