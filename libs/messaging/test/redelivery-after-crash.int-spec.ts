import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { waitFor } from '@simdeploy/testing';
import { CommandKind } from '../src';
import { CommandTestBed, launchCommand, natsUrl } from './support';

interface Received {
  seq: number;
  deliveryCount: number;
  command: { deploymentId: string };
}

function startDyingWorker(bed: CommandTestBed): { child: ChildProcess; received: Received[]; exited: Promise<NodeJS.Signals | null> } {
  const child = spawn(process.execPath, [join(__dirname, 'fixtures/dying-worker.cjs'), natsUrl(), bed.topology.streamName, CommandKind.Launch], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const received: Received[] = [];
  if (!child.stdout) throw new Error('dying worker spawned without a stdout pipe');
  createInterface({ input: child.stdout }).on('line', (line) => received.push(JSON.parse(line) as Received));
  const exited = new Promise<NodeJS.Signals | null>((resolve) => child.once('exit', (_code, signal) => resolve(signal)));
  return { child, received, exited };
}

describe('a replica killed mid-handler', () => {
  let bed: CommandTestBed;
  let worker: ReturnType<typeof startDyingWorker> | undefined;

  beforeEach(async () => {
    bed = await CommandTestBed.create({ ackWaitMs: 1_000 });
  });

  afterEach(async () => {
    if (worker && worker.child.exitCode === null && worker.child.signalCode === null) worker.child.kill('SIGKILL');
    await worker?.exited;
    await bed.dispose();
  });

  it('leaves its command unacked, and after ack_wait the surviving replica runs it', async () => {
    await bed.bus.send(launchCommand('orphaned'));
    const doomed = startDyingWorker(bed);
    worker = doomed;
    await waitFor(() => doomed.received.length === 1, { description: 'the doomed worker took the command' });

    doomed.child.kill('SIGKILL');
    expect(await doomed.exited).toBe('SIGKILL');
    const survivorSaw: Array<{ deploymentId: string; deliveryCount: number }> = [];
    await bed.startReplica((msg, ctx) => {
      survivorSaw.push({ deploymentId: msg.deploymentId, deliveryCount: ctx.getDeliveryCount() });
    });

    await waitFor(async () => survivorSaw.length === 1 && (await bed.storedCommands()) === 0, { description: 'survivor ran and acked it' });
    expect(doomed.received[0]).toMatchObject({ deliveryCount: 1, command: { deploymentId: 'orphaned' } });
    expect(survivorSaw).toEqual([{ deploymentId: 'orphaned', deliveryCount: 2 }]);
  });
});
