import type { Observation, ProviderCall, SimDeployment } from '@simdeploy/domain';
import { inSpan } from '@simdeploy/telemetry';
import type { Providers } from './providers';
import { StepFailedError, callProvider } from './retry';
import type { RetrySettings } from './settings';

/** The machines of a deployment as the providers know them. */
export const machinesOf = (state: SimDeployment) =>
  state.nodes.map((n) => ({ instanceId: n.instanceId ?? '', nodeName: n.nodeName ?? '' }));

/** Runs one provider operation the process decider asked for, with what it needs from the state. */
function invoke({ nodes, pods }: Providers, state: SimDeployment, call: ProviderCall, signal: AbortSignal): Promise<unknown> {
  const id = state.id;
  switch (call.operation) {
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
export async function observe(providers: Providers, state: SimDeployment, call: ProviderCall, retry: RetrySettings): Promise<Observation> {
  try {
    const value = await inSpan(`provider ${call.operation}`, { kind: 'client', attributes: { 'simdeploy.provider': state.provider } }, () =>
      callProvider(call.operation, (signal) => invoke(providers, state, call, signal), retry, state.provider),
    );
    return { call, outcome: { ok: true, value } } as Observation;
  } catch (error) {
    if (!(error instanceof StepFailedError)) throw error;
    return { call, outcome: { ok: false, failure: error.toCallFailure() } } as Observation;
  }
}
