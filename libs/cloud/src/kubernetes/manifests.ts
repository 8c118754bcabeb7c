import type {
  V1NetworkPolicy,
  V1NetworkPolicyEgressRule,
  V1NetworkPolicyIngressRule,
  V1NetworkPolicyPeer,
  V1Pod,
  V1Service,
} from '@kubernetes/client-node';
import type { PodPlan, PodRole } from '@simdeploy/domain';
import { resourcePrefix } from '@simdeploy/domain';
import { CONTROL_PLANE_TAG, CONTROL_PLANE_TAG_VALUE, DEPLOYMENT_TAG, NODE_ROLE_TAG, OWNER_TAG } from '../ports';
import type { WorkloadRequest } from '../ports';

export const POD_ROLE_LABEL = 'simdeploy.io/pod-role';
export const ROBOT_INDEX_LABEL = 'simdeploy.io/robot-index';

/** What the manifests need beyond the request: the adapter's configuration. */
export interface ManifestSettings {
  namespace: string;
  controlPlaneCidr: string;
  simulatorPort: number;
}

export const deploymentSelector = (deploymentId: string): string => `${DEPLOYMENT_TAG}=${deploymentId}`;
export const managedSelector = `${CONTROL_PLANE_TAG}=${CONTROL_PLANE_TAG_VALUE}`;
export const defaultDenyPolicyName = (deploymentId: string): string => `${resourcePrefix(deploymentId)}-default-deny`;

/** A pod plan with the robot index it pairs on (robot i talks to bridge i only). */
export interface IndexedPod extends PodPlan {
  robotIndex?: number;
}

/** The plan lists robots and bridges in robot order, so the n-th of a role is robot n. */
export function indexPods(pods: readonly PodPlan[]): IndexedPod[] {
  const seen: Partial<Record<PodRole, number>> = {};
  return pods.map((pod) => {
    if (pod.role === 'simulator') return { ...pod };
    const robotIndex = seen[pod.role] ?? 0;
    seen[pod.role] = robotIndex + 1;
    return { ...pod, robotIndex };
  });
}

const deploymentLabels = (deploymentId: string): Record<string, string> => ({
  [DEPLOYMENT_TAG]: deploymentId,
  [CONTROL_PLANE_TAG]: CONTROL_PLANE_TAG_VALUE,
});

/** Selects one pod of the deployment by role (and robot index): the labels every pod carries. */
const podSelectorLabels = (deploymentId: string, role: PodRole, robotIndex?: number): Record<string, string> => ({
  [DEPLOYMENT_TAG]: deploymentId,
  [POD_ROLE_LABEL]: role,
  ...(robotIndex === undefined ? {} : { [ROBOT_INDEX_LABEL]: String(robotIndex) }),
});

const podLabels = (deploymentId: string, pod: IndexedPod): Record<string, string> => ({
  ...deploymentLabels(deploymentId),
  ...podSelectorLabels(deploymentId, pod.role, pod.robotIndex),
});

const peer = (deploymentId: string, role: PodRole, robotIndex?: number): V1NetworkPolicyPeer => ({
  podSelector: { matchLabels: podSelectorLabels(deploymentId, role, robotIndex) },
});

/** Every pod may resolve names; nothing else leaves the pod unless a rule below says so. */
const dnsEgress: V1NetworkPolicyEgressRule = {
  to: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'kube-system' } } }],
  ports: [
    { protocol: 'UDP', port: 53 },
    { protocol: 'TCP', port: 53 },
  ],
};

/** An egress rule without `to` allows every destination. */
const anywhere: V1NetworkPolicyEgressRule = {};

function allowList(deploymentId: string, pod: IndexedPod, controlPlaneCidr: string) {
  const ingress: V1NetworkPolicyIngressRule[] = [];
  const egress: V1NetworkPolicyEgressRule[] = [dnsEgress];
  switch (pod.role) {
    case 'simulator':
      ingress.push({ _from: [peer(deploymentId, 'bridge'), { ipBlock: { cidr: controlPlaneCidr } }] });
      // The simulator fetches worlds and models from outside the cluster.
      egress.push(anywhere);
      break;
    case 'bridge': {
      const robot = peer(deploymentId, 'robot', pod.robotIndex);
      ingress.push({ _from: [peer(deploymentId, 'simulator'), robot] });
      egress.push({ to: [peer(deploymentId, 'simulator'), robot] });
      break;
    }
    case 'robot': {
      const bridge = peer(deploymentId, 'bridge', pod.robotIndex);
      ingress.push({ _from: [bridge] });
      egress.push({ to: [bridge] });
      break;
    }
    default: {
      const unknownRole: never = pod.role;
      throw new Error(`no network policy for pod role ${String(unknownRole)}`);
    }
  }
  return { ingress, egress };
}

/**
 * A default-deny for the whole deployment, then per pod the traffic it needs. Policies add up,
 * so the deny-all only matters for what no allow-list names.
 */
export function buildNetworkPolicies(request: WorkloadRequest, settings: ManifestSettings): V1NetworkPolicy[] {
  const { deploymentId } = request;
  const planned = new Set(request.plan.networkPolicies);
  const defaultDeny: V1NetworkPolicy = {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: { name: defaultDenyPolicyName(deploymentId), namespace: settings.namespace, labels: deploymentLabels(deploymentId) },
    spec: { podSelector: { matchLabels: { [DEPLOYMENT_TAG]: deploymentId } }, policyTypes: ['Ingress', 'Egress'] },
  };
  const perPod = indexPods(request.plan.pods)
    .filter((pod) => planned.has(pod.name))
    .map(
      (pod): V1NetworkPolicy => ({
        apiVersion: 'networking.k8s.io/v1',
        kind: 'NetworkPolicy',
        metadata: { name: pod.name, namespace: settings.namespace, labels: podLabels(deploymentId, pod) },
        spec: {
          podSelector: { matchLabels: podSelectorLabels(deploymentId, pod.role, pod.robotIndex) },
          policyTypes: ['Ingress', 'Egress'],
          ...allowList(deploymentId, pod, settings.controlPlaneCidr),
        },
      }),
    );
  return [defaultDeny, ...perPod];
}

/**
 * Pods are pinned with a nodeSelector on the labels the node bootstrap sets, not with
 * `nodeName`: nodeName skips the scheduler (no resource fit, no taint checks) and binds to a
 * name that may not have registered yet, while the labels hold for whichever machine joins.
 * The toleration lets the pods onto nodes tainted as dedicated to the deployment.
 */
export function buildPod(request: WorkloadRequest, pod: IndexedPod, settings: ManifestSettings): V1Pod {
  const { deploymentId, spec } = request;
  const isSimulator = pod.role === 'simulator';
  const simulatorService = request.plan.services[0];
  const env = [
    { name: 'SIMDEPLOY_DEPLOYMENT_ID', value: deploymentId },
    { name: 'WORLD', value: spec.world },
    ...(pod.robot === undefined ? [] : [{ name: 'ROBOT_NAME', value: pod.robot }]),
    ...(pod.role === 'bridge' && simulatorService !== undefined
      ? [{ name: 'SIMULATOR_ADDRESS', value: `${simulatorService}:${settings.simulatorPort}` }]
      : []),
  ];
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: pod.name,
      namespace: settings.namespace,
      labels: podLabels(deploymentId, pod),
      // Owners are user ids, not always valid label values.
      annotations: { [OWNER_TAG]: request.owner },
    },
    spec: {
      restartPolicy: 'Never',
      // Simulation containers have no business with the Kubernetes API.
      automountServiceAccountToken: false,
      nodeSelector: { [DEPLOYMENT_TAG]: deploymentId, [NODE_ROLE_TAG]: pod.nodeRole },
      tolerations: [{ key: DEPLOYMENT_TAG, operator: 'Equal', value: deploymentId, effect: 'NoSchedule' }],
      containers: [
        {
          name: pod.role,
          image: pod.image,
          env,
          ...(isSimulator
            ? {
                ports: [{ name: 'simulator', containerPort: settings.simulatorPort, protocol: 'TCP' }],
                readinessProbe: { tcpSocket: { port: settings.simulatorPort }, periodSeconds: 5, failureThreshold: 3 },
              }
            : {}),
        },
      ],
    },
  };
}

/** Every planned service fronts the simulator: it is the only pod others connect to by name. */
export function buildService(request: WorkloadRequest, name: string, settings: ManifestSettings): V1Service {
  const { deploymentId } = request;
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: {
      name,
      namespace: settings.namespace,
      labels: { ...deploymentLabels(deploymentId), [POD_ROLE_LABEL]: 'simulator' },
    },
    spec: {
      type: 'ClusterIP',
      selector: podSelectorLabels(deploymentId, 'simulator'),
      ports: [{ name: 'simulator', port: settings.simulatorPort, targetPort: settings.simulatorPort, protocol: 'TCP' }],
    },
  };
}
