import { SimDeployment, Status } from '@simdeploy/domain';

/** What a deployment may still hold, judged from how far its cleanup got: the leftovers an operator reviews. */
export interface HeldResources {
  instances: string[];
  nodes: string[];
  pods: string[];
  services: string[];
  networkPolicies: string[];
}

const CLEANUP_ORDER: Status[] = [Status.DeletingPods, Status.DeletingNodes, Status.TerminatingInstances, Status.Terminated];
const passed = (state: SimDeployment, status: Status) => CLEANUP_ORDER.indexOf(state.status) > CLEANUP_ORDER.indexOf(status);

export function heldResources(state: SimDeployment): HeldResources {
  const podsGone = passed(state, Status.DeletingPods);
  return {
    instances: passed(state, Status.TerminatingInstances) ? [] : state.nodes.flatMap((n) => (n.instanceId ? [n.instanceId] : [])),
    nodes: passed(state, Status.DeletingNodes) ? [] : state.nodes.flatMap((n) => (n.nodeName ? [n.nodeName] : [])),
    pods: podsGone ? [] : state.pods.map((p) => p.name),
    services: podsGone ? [] : [...state.services],
    networkPolicies: podsGone ? [] : [...state.networkPolicies],
  };
}
