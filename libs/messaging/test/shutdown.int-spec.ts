import { setImmediate as nextMacrotask } from 'node:timers/promises';
import { waitFor } from '@simdeploy/testing';
import { CommandTestBed, Gate, launchCommand } from './support';

describe('JetStreamCommandServer.close', () => {
  let bed: CommandTestBed;
  let gate: Gate;

  beforeEach(async () => {
    gate = new Gate();
    bed = await CommandTestBed.create({ ackWaitMs: 1_000 });
  });

  afterEach(async () => {
    gate.open();
    await bed.dispose();
  });

  it('lets the running handler finish and ack, hands later commands to other replicas, and leaves the app connection open', async () => {
    const events: string[] = [];
    const handledByClosing: string[] = [];
    const closingReplica = await bed.startReplica(async (msg) => {
      handledByClosing.push(msg.deploymentId);
      await gate.wait();
      events.push('handler finished');
    });
    await bed.bus.send(launchCommand('in-flight'));
    await waitFor(() => handledByClosing.length === 1, { description: 'in-flight command started' });

    const closed = closingReplica.close().then(() => events.push('closed'));
    await bed.bus.send(launchCommand('sent-while-closing'));
    const survivor: Array<{ id: string; deliveryCount: number }> = [];
    await bed.startReplica((msg, ctx) => {
      survivor.push({ id: msg.deploymentId, deliveryCount: ctx.getDeliveryCount() });
    });
    await waitFor(() => survivor.length === 1, { description: 'the other replica took the new command' });
    await nextMacrotask();
    gate.open();
    await closed;

    expect(events).toEqual(['handler finished', 'closed']);
    expect(handledByClosing).toEqual(['in-flight']);
    expect(survivor.map(({ id }) => id)).toEqual(['sent-while-closing']);
    await waitFor(async () => (await bed.storedCommands()) === 0, { description: 'both commands acked' });
    expect(bed.nc.isClosed()).toBe(false);
  });

  it('gives up on a stuck handler at the deadline, and its command is redelivered elsewhere', async () => {
    const stuck = await bed.startReplica(() => gate.wait(), { shutdownTimeoutMs: 100 });
    await bed.bus.send(launchCommand('stuck'));
    await waitFor(async () => (await bed.launchConsumer()).num_ack_pending === 1, { description: 'stuck command in flight' });

    await stuck.close();
    const survivor: number[] = [];
    await bed.startReplica((_msg, ctx) => {
      survivor.push(ctx.getDeliveryCount());
    });

    // The stuck replica stopped sending working(), so ack_wait runs out.
    await waitFor(async () => survivor.length === 1 && (await bed.storedCommands()) === 0, { description: 'redelivered to the survivor' });
    expect(survivor).toEqual([2]);
  });
});
