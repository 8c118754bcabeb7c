import { NestFactory } from '@nestjs/core';
import { waitFor } from '@simdeploy/testing';
import { CommandKind, CommandBus, MessagingModule, commandMicroserviceOptions } from '../src';
import { CommandTestBed, Concurrency, Gate, WorkerModule, launchCommand, natsUrl } from './support';

describe('JetStreamCommandServer', () => {
  let bed: CommandTestBed;

  afterEach(async () => {
    await bed.dispose();
  });

  it('handles every command once and acks it, leaving the work queue empty', async () => {
    bed = await CommandTestBed.create();
    const handled = new Map<string, number>();
    // Wired the way an app is: MessagingModule.forRoot + commandMicroserviceOptions.
    const app = bed.track(
      await NestFactory.createMicroservice(
        WorkerModule.with(
          {
            launch: (msg) => {
              handled.set(msg.deploymentId, (handled.get(msg.deploymentId) ?? 0) + 1);
            },
          },
          [MessagingModule.forRoot({ natsUrl: natsUrl(), ...bed.topology })],
        ),
        { ...commandMicroserviceOptions(), logger: false },
      ),
    );
    await app.listen();
    const ids = ['a', 'b', 'c', 'd', 'e'].map((suffix) => `dep-${suffix}`);

    for (const id of ids) await app.get(CommandBus).send(launchCommand(id));

    await waitFor(async () => (await bed.launchConsumer()).num_ack_pending === 0 && (await bed.storedCommands()) === 0 && handled.size === 5, {
      description: 'all five commands handled and acked',
    });
    expect(Object.fromEntries(handled)).toEqual(Object.fromEntries(ids.map((id) => [id, 1])));
    expect((await bed.launchConsumer()).num_redelivered).toBe(0);
  });

  it('runs at most poolSize handlers per replica and pulls no more than it can run', async () => {
    bed = await CommandTestBed.create();
    const gate = new Gate();
    const replicas = [new Concurrency(), new Concurrency()];
    for (const replica of replicas) {
      await bed.startReplica(() => replica.around(() => gate.wait()), { poolSize: 3 });
    }

    for (let i = 0; i < 20; i += 1) await bed.bus.send(launchCommand(`dep-${i}`));

    await waitFor(() => replicas.every((replica) => replica.running === 3), { description: 'both replicas busy' });
    const whileBlocked = await bed.launchConsumer();
    expect(whileBlocked.num_ack_pending).toBe(6);
    expect(whileBlocked.num_pending).toBe(14);

    gate.open();
    await waitFor(async () => replicas[0].completed + replicas[1].completed === 20 && (await bed.storedCommands()) === 0, {
      description: 'all 20 commands completed',
    });
    expect(replicas.map((replica) => replica.peak)).toEqual([3, 3]);
  });

  it('keeps a kind with a backlog from taking the slots another kind needs', async () => {
    bed = await CommandTestBed.create();
    const gate = new Gate();
    const launches = new Concurrency();
    const terminated: string[] = [];
    await bed.startWorker(
      {
        launch: () => launches.around(() => gate.wait()),
        terminate: (msg) => {
          terminated.push(msg.deploymentId);
        },
      },
      { poolSize: 4 },
    );

    for (let i = 0; i < 6; i += 1) await bed.bus.send(launchCommand(`launch-${i}`));
    await waitFor(() => launches.running === 2, { description: 'launches fill their share of the pool' });
    await bed.bus.send(launchCommand('stop-me', { kind: CommandKind.Terminate }));

    await waitFor(() => terminated.length === 1, { description: 'terminate handled while launches block' });
    expect(launches.running).toBe(2);
    gate.open();
    await waitFor(async () => launches.completed === 6 && (await bed.storedCommands()) === 0, { description: 'all launches done' });
    expect(launches.peak).toBe(2);
  });

  it('hands a command asking to retry back to the queue without holding its slot', async () => {
    bed = await CommandTestBed.create();
    let quickHandledAt: number | undefined;
    const firstDeliveries = new Set<string>();
    const completions = new Map<string, number>();
    const order: string[] = [];
    await bed.startReplica(
      (msg, ctx) => {
        if (msg.deploymentId === 'quick') {
          quickHandledAt = ctx.getDeliveryCount();
          order.push('quick');
          return;
        }
        if (ctx.getDeliveryCount() === 1) firstDeliveries.add(msg.deploymentId);
        // Slow machines: keep asking to be called again until the quick command went through.
        if (quickHandledAt === undefined) return { retryAfterMs: 200 };
        completions.set(msg.deploymentId, ctx.getDeliveryCount());
        order.push(msg.deploymentId);
        return { done: true };
      },
      { poolSize: 1 },
    );
    const waiting = Array.from({ length: 10 }, (_, i) => `waiting-${i}`);

    for (const id of waiting) await bed.bus.send(launchCommand(id));
    await waitFor(() => firstDeliveries.size === 10, { description: 'all ten waiting commands seen once' });
    await bed.bus.send(launchCommand('quick'));

    await waitFor(async () => completions.size === 10 && (await bed.storedCommands()) === 0, { description: 'waiting commands done' });
    expect(quickHandledAt).toBe(1);
    expect(order[0]).toBe('quick');
    for (const id of waiting) expect(completions.get(id)).toBeGreaterThanOrEqual(2);
  });

  it('redelivers a command whose handler throws until it succeeds, never terminating it', async () => {
    bed = await CommandTestBed.create();
    const deliveries: number[] = [];
    await bed.startReplica(
      (_msg, ctx) => {
        deliveries.push(ctx.getDeliveryCount());
        if (ctx.getDeliveryCount() < 4) throw new Error('provider unavailable');
      },
      { retryBackoff: { baseMs: 50 } },
    );

    await bed.bus.send(launchCommand('flaky'));

    await waitFor(async () => (await bed.storedCommands()) === 0, { description: 'flaky command acked' });
    expect(deliveries).toEqual([1, 2, 3, 4]);
  });

  it('keeps a long handler from being redelivered after ack_wait by sending working()', async () => {
    bed = await CommandTestBed.create({ ackWaitMs: 1_000 });
    const counts: number[] = [];
    await bed.startReplica(async (_msg, ctx) => {
      counts.push(ctx.getDeliveryCount());
      // A slow provider call: three times ack_wait.
      await new Promise((resolve) => setTimeout(resolve, 3_000));
    });

    await bed.bus.send(launchCommand('slow'));

    await waitFor(async () => (await bed.storedCommands()) === 0, { timeoutMs: 15_000, description: 'slow command acked' });
    expect(counts).toEqual([1]);
    expect((await bed.launchConsumer()).num_redelivered).toBe(0);
  });
});
