import { AckPolicy, RetentionPolicy, StorageType } from '@nats-io/jetstream';
import { millis } from '@nats-io/transport-node';
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
    expect(stream.config.subjects.sort()).toEqual(
      [`${bed.topology.subjectPrefix}.handle-failure`, `${bed.topology.subjectPrefix}.launch`, `${bed.topology.subjectPrefix}.terminate`],
    );

    for (const kind of Object.values(CommandKind)) {
      const { config } = await bed.jsm.consumers.info(bed.topology.streamName, kind);
      expect(config).toMatchObject({
        durable_name: kind,
        filter_subject: `${bed.topology.subjectPrefix}.${kind}`,
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
