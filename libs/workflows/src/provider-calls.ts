import type { LogArchive } from '@simdeploy/cloud';
import type { AdmissionLedgers } from './admission-ledgers';
import type { Observation, ProviderCall, SimDeployment } from '@simdeploy/domain';
import { inSpan } from '@simdeploy/telemetry';
import type { Providers } from './providers';
import { StepFailedError, callProvider } from './retry';
import type { RetrySettings } from './settings';

/** The machines of a deployment as the providers know them. */
export const machinesOf = (state: SimDeployment) =>
  state.nodes.map((n) => ({ instanceId: n.instanceId ?? '', nodeName: n.nodeName ?? '' }));

/** How much of each pod's log is archived at most (its tail): archives stay bounded however long a simulation ran. */
export const ARCHIVED_LOG_LINES = 10_000;

/** Copies each pod's log to the archive; answers where the first went (they sit side by side). */
async function archiveLogs({ pods }: Providers, archive: LogArchive, state: SimDeployment, podNames: readonly string[], signal: AbortSignal) {
  const locations: string[] = [];
  for (const pod of podNames) {
    signal.throwIfAborted();
    locations.push(await archive.store(state.id, pod, await pods.readLogs(state.id, pod, ARCHIVED_LOG_LINES, signal), signal));
  }
  return { location: locations[0] ?? '' };
}

/** What an operation may need besides the deployment's providers: the log archive, the admission ledgers. */
export interface Operations {
  archive: LogArchive;
  /** Absent: no limits, every launch goes. */
  ledgers?: AdmissionLedgers;
}

/** Runs one provider operation the process decider asked for, with what it needs from the state. */
function invoke(providers: Providers, operations: Operations, state: SimDeployment, call: ProviderCall, signal: AbortSignal): Promise<unknown> {
  const { nodes, pods } = providers;
  const id = state.id;
  switch (call.operation) {
    case 'admit':
      return operations.ledgers ? operations.ledgers.admit(id, call.scope, call.capacity, call.weight) : Promise.resolve({ admitted: [] });
    case 'release':
      return operations.ledgers ? operations.ledgers.release(id, call.ledgers) : Promise.resolve();
    case 'launchNode':
      return nodes.launchNode(
        {
          deploymentId: id,
          owner: state.owner,
          role: call.node.role,
          index: call.node.index,
          clientToken: call.node.clientToken,
          instanceType: call.node.instanceType,
          labels: state.spec.labels,
        },
        signal,
      );
    case 'checkNodes':
      return nodes.checkNodes(id, machinesOf(state), signal);
    case 'checkNodesJoined':
      return pods.checkNodesJoined(id, machinesOf(state).map((m) => m.nodeName), signal);
    case 'createWorkload':
      return pods.createWorkload(
        {
          deploymentId: id,
          owner: state.owner,
          spec: state.spec,
          plan: { pods: state.pods, services: state.services, networkPolicies: state.networkPolicies },
          nodes: state.nodes,
        },
        signal,
      );
    case 'checkWorkload':
      return pods.checkWorkload(id, state.pods, signal);
    case 'archiveLogs':
      return archiveLogs(providers, operations.archive, state, call.pods, signal);
    case 'deleteWorkload':
      return pods.deleteWorkload(id, signal);
    case 'deleteNodes':
      return pods.deleteNodes(id, call.nodeNames, signal);
    case 'terminateInstances':
      return nodes.terminateInstances(id, call.instanceIds, signal);
    case 'terminateDeployment':
      return nodes.terminateDeployment(id, signal);
  }
}

/**
 * Calls the provider through the one retry/timeout wrapper and answers what happened, as
 * the process decider reads it: a value, or the failure after the tries it took.
 */
export async function observe(
  providers: Providers,
  operations: Operations,
  state: SimDeployment,
  call: ProviderCall,
  retry: RetrySettings,
): Promise<Observation> {
  try {
    const value = await inSpan(`provider ${call.operation}`, { kind: 'client', attributes: { 'simdeploy.provider': state.provider } }, () =>
      callProvider(call.operation, (signal) => invoke(providers, operations, state, call, signal), retry, state.provider),
    );
    return { call, outcome: { ok: true, value } } as Observation;
  } catch (error) {
    if (!(error instanceof StepFailedError)) throw error;
    return { call, outcome: { ok: false, failure: error.toCallFailure() } } as Observation;
  }
}
