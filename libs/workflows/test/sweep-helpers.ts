import { jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import {
  DomainError,
  command,
  type Actor,
  type SimDeploymentCommand,
  type SimulationSpec,
} from '@simdeploy/domain';
import { JetStreamEventStore, type RecordedEvent } from '@simdeploy/event-store';
import { DeploymentCommandHandler } from '../src/command-handler';
import { uniqueName } from '@simdeploy/testing';
import { randomBytes } from 'node:crypto';
import { Clock } from '../src/settings';
import { SWEEP_STREAM } from '../src/sweep';

export const T0 = Date.parse('2030-01-01T00:00:00.000Z');
const tester: Actor = { subject: 'test', roles: ['admin'] };

/** Time stands where the test puts it. */
export class TestClock extends Clock {
  constructor(public ms = T0) {
    super();
  }
  now(): Date {
    return new Date(this.ms);
  }
}

export const deploymentId = (): string => `sw${randomBytes(5).toString('hex')}`;

export const spec = (robots = 1): SimulationSpec => ({
  world: 'empty.sdf',
  simulatorImage: 'gz-sim:8',
  robots: Array.from({ length: robots }, (_, i) => ({ name: `robot${i}`, image: 'robot:1' })),
  nodeInstanceType: 'm5.large',
  labels: {},
});

type Data<T extends SimDeploymentCommand['type']> = Extract<SimDeploymentCommand, { type: T }>['data'];

/** Issues domain commands as of a given time and fails the test on a refusal. */
export function commander(handler: DeploymentCommandHandler) {
  return async <T extends SimDeploymentCommand['type']>(id: string, type: T, data: Data<T>, atMs = T0) => {
    const result = await handler.handle(id, command(type, data as never, { now: new Date(atMs).toISOString(), by: tester }));
    if (result instanceof DomainError) throw result;
    return result;
  };
}

/** A JetStream event store of its own on the test's private nats-server. */
export async function openStore(): Promise<{ store: JetStreamEventStore; close: () => Promise<void> }> {
  const nc: NatsConnection = await connect({ servers: process.env['NATS_URL'] });
  const store = await JetStreamEventStore.create(nc, { streamName: uniqueName('SWEEP_EVENTS'), subjectPrefix: uniqueName('sweep') });
  return {
    store,
    close: async () => {
      await store.close();
      await (await jetstreamManager(nc)).streams.delete(store.streamName);
      await nc.close();
    },
  };
}

export const sweptEvents = async (store: JetStreamEventStore, stream: string): Promise<RecordedEvent[]> =>
  (await store.readStream(stream)).events.filter((e) => e.type === 'OrphanSwept');

export const sweptInSweepStream = async (store: JetStreamEventStore, resourceId: string): Promise<RecordedEvent[]> =>
  (await sweptEvents(store, SWEEP_STREAM)).filter((e) => (e.data as { resourceId?: string }).resourceId === resourceId);
