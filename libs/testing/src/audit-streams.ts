import { schemaVersionMetadata, type SimDeploymentEvent } from '@simdeploy/domain';

const AT = (s: number) => new Date(Date.parse('2026-11-28T00:00:00.000Z') + s * 1000).toISOString();

/** A deployment's events as the services write them (the event store's NewEvent): with the current schema version. */
export const asWritten = (events: readonly SimDeploymentEvent[]): { type: string; data: object; metadata: Record<string, unknown> }[] =>
  events.map((e) => ({ type: e.type, data: e.data, metadata: { ...schemaVersionMetadata() } }));

const requested = (id: string): SimDeploymentEvent => ({
  type: 'SimulationRequested',
  data: {
    deploymentId: id,
    owner: 'alice',
    requestedAt: AT(0),
    requestedBy: { subject: 'alice', roles: [] },
    spec: { world: 'warehouse.sdf', simulatorImage: 'gz:harmonic', robots: [], nodeInstanceType: 'g4dn.xlarge', labels: {} },
    provider: 'aws',
  },
});

/** Pending straight to Running: no launch happened, which the transition table does not allow. */
export const illegalSequence = (id: string): SimDeploymentEvent[] => [requested(id), { type: 'SimulationRunning', data: { at: AT(1) } }];

/**
 * Stopped while its node launched, cleaned up and Terminated; then the launch's instance was
 * recorded late and never terminated: a legal history whose instance leaked.
 */
export const leakedInstance = (id: string, instanceId = `i-late-${id.slice(0, 8)}`): SimDeploymentEvent[] => [
  requested(id),
  { type: 'NodesLaunchStarted', data: { at: AT(1), nodes: [{ role: 'simulator', index: 0, clientToken: `${id}-0`, instanceType: 'g4dn.xlarge' }] } },
  { type: 'StopRequested', data: { at: AT(2), by: { subject: 'alice', roles: [] }, reason: 'user' } },
  { type: 'PodsDeletionStarted', data: { at: AT(3) } },
  { type: 'NodesDeletionStarted', data: { at: AT(4) } },
  { type: 'InstancesTerminationStarted', data: { at: AT(5) } },
  { type: 'SimulationTerminated', data: { at: AT(6) } },
  { type: 'InstanceLaunched', data: { at: AT(7), role: 'simulator', index: 0, clientToken: `${id}-0`, instanceId, nodeName: 'ip-late' } },
];

/** The same history with the late instance terminated: nothing leaked. */
export const lateInstanceReleased = (id: string, instanceId = `i-late-${id.slice(0, 8)}`): SimDeploymentEvent[] => [
  ...leakedInstance(id, instanceId),
  { type: 'InstancesTerminated', data: { at: AT(8), instanceIds: [instanceId] } },
];

