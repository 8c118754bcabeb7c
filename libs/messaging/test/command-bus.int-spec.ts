import { AckPolicy, RetentionPolicy, StorageType } from '@nats-io/jetstream';
import { millis } from '@nats-io/transport-node';
import { waitFor } from '@simdeploy/testing';
import { CommandKind, JetStreamCommandBus, type DeploymentCommandMessage } from '../src';
import { CommandTestBed, launchCommand } from './support';

describe('JetStreamCommandBus', () => {
  let bed: CommandTestBed;

  beforeEach(async () => {
    bed = await CommandTestBed.create();
  });

  afterEach(async () => {
    await bed.dispose();
  });

  it('stores a command sent twice with the same messageId once', async () => {
    const first = launchCommand('dep-1');
    await bed.bus.send(first, { messageId: 'reconcile:dep-1:7' });
    await bed.bus.send({ ...first, issuedAt: new Date(Date.now() + 1).toISOString() }, { messageId: 'reconcile:dep-1:7' });

    expect(await bed.storedCommands()).toBe(1);
  });

  it('derives the default messageId from deployment, kind and issuedAt', async () => {
    const command = launchCommand('dep-2', { issuedAt: '2030-01-01T00:00:00.000Z' });
    await bed.bus.send(command);
    await bed.bus.send(command);
    await bed.bus.send({ ...command, kind: CommandKind.Terminate });
    await bed.bus.send({ ...command, issuedAt: '2030-01-01T00:00:01.000Z' });

    expect(await bed.storedCommands()).toBe(3);
  });

  it('refuses a command of an unknown kind before publishing it', async () => {
    const bogus = { ...launchCommand('dep-3'), kind: 'reboot' } as unknown as DeploymentCommandMessage;

    await expect(bed.bus.send(bogus)).rejects.toThrow(/unknown command kind/);
    expect(await bed.storedCommands()).toBe(0);
  });

  it('publishes each command on its deployment\'s own subject', async () => {
    await bed.bus.send(launchCommand('dep-4'));

    const stored = await bed.jsm.streams.getMessage(bed.topology.streamName, { seq: 1 });
    expect(stored?.subject).toBe(`${bed.topology.subjectPrefix}.launch.dep-4`);
  });

  it('refuses a deployment id that is not a single subject token', async () => {
    await expect(bed.bus.send(launchCommand('a.b'))).rejects.toThrow(/subject token/);
    await expect(bed.bus.send(launchCommand('*'))).rejects.toThrow(/subject token/);
    expect(await bed.storedCommands()).toBe(0);
  });

  it('reports a command as pending from its publication until it is acked, per deployment and kind', async () => {
    expect(await bed.bus.hasPending(CommandKind.Launch, 'dep-5')).toBe(false);
    await bed.bus.send(launchCommand('dep-5'));

    expect(await bed.bus.hasPending(CommandKind.Launch, 'dep-5')).toBe(true);
    expect(await bed.bus.hasPending(CommandKind.Terminate, 'dep-5')).toBe(false);
    expect(await bed.bus.hasPending(CommandKind.Launch, 'dep-6')).toBe(false);

    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    let started = false;
    await bed.startReplica(async () => {
      started = true;
      await held;
    });
    await waitFor(() => started, { description: 'the launch handler to start' });
    // Delivered but not acked: still pending, so nobody re-sends a command being worked on.
    expect(await bed.bus.hasPending(CommandKind.Launch, 'dep-5')).toBe(true);

    release();
    await waitFor(async () => !(await bed.bus.hasPending(CommandKind.Launch, 'dep-5')), { description: 'the ack to remove the command' });
    expect(await bed.storedCommands()).toBe(0);
  });
});

describe('JetStreamCommandBus.ensureTopology', () => {
  let bed: CommandTestBed;

  beforeEach(async () => {
    bed = await CommandTestBed.create({ ackWaitMs: 4_000, maxAckPending: 50 });
  });

  afterEach(async () => {
    await bed.dispose();
  });

  it('builds one work-queue stream and a non-overlapping durable consumer per kind', async () => {
    const stream = await bed.jsm.streams.info(bed.topology.streamName);
    expect(stream.config.retention).toBe(RetentionPolicy.Workqueue);
    expect(stream.config.storage).toBe(StorageType.File);
    expect(millis(stream.config.duplicate_window ?? 0)).toBe(120_000);
    expect(stream.config.allow_direct).toBe(true);
    expect(stream.config.subjects.sort()).toEqual(
      [`${bed.topology.subjectPrefix}.handle-failure.>`, `${bed.topology.subjectPrefix}.launch.>`, `${bed.topology.subjectPrefix}.terminate.>`],
    );

    for (const kind of Object.values(CommandKind)) {
      const { config } = await bed.jsm.consumers.info(bed.topology.streamName, kind);
      expect(config).toMatchObject({
        durable_name: kind,
        filter_subject: `${bed.topology.subjectPrefix}.${kind}.>`,
        ack_policy: AckPolicy.Explicit,
        max_deliver: -1,
        max_ack_pending: 50,
      });
      expect(millis(config.ack_wait ?? 0)).toBe(4_000);
    }
  });

  it('is idempotent when replicas run it at once, keeps queued commands and applies a changed ack_wait', async () => {
    await bed.bus.send(launchCommand('queued-before-restart'));
    const again = { ...bed.topology, ackWaitMs: 7_000 };
    await Promise.all([1, 2, 3, 4].map(() => JetStreamCommandBus.ensureTopology(bed.nc, again)));

    const { config } = await bed.jsm.consumers.info(bed.topology.streamName, CommandKind.Launch);
    expect(millis(config.ack_wait ?? 0)).toBe(7_000);
    expect(await bed.storedCommands()).toBe(1);
  });
});
