import type {
  V1Container,
  V1LabelSelector,
  V1NetworkPolicy,
  V1NetworkPolicyEgressRule,
  V1NetworkPolicyIngressRule,
  V1NetworkPolicyPeer,
  V1NetworkPolicyPort,
  V1Pod,
  V1Service,
  V1Toleration,
} from '@kubernetes/client-node';
import type { NodeRecord, PodPlan, PodRole } from '@simdeploy/domain';
import { resourcePrefix } from '@simdeploy/domain';
import {
  CONTROL_PLANE_TAG,
  CONTROL_PLANE_TAG_VALUE,
  DEDICATED_TAINT_KEY,
  DEPLOYMENT_TAG,
  NODE_RESTRICTED_DEPLOYMENT_LABEL,
  NODE_RESTRICTED_ROLE_LABEL,
  OWNER_TAG,
} from '../ports';
import type { WorkloadRequest } from '../ports';
import { isStrictSubset } from './cidr';
import { GPU_RESOURCE, gpusOf, resourcesFor } from './resources';
import type { ResourceSettings } from './resources';

export const POD_ROLE_LABEL = 'simdeploy.io/pod-role';
export const ROBOT_INDEX_LABEL = 'simdeploy.io/robot-index';
export const HOSTNAME_LABEL = 'kubernetes.io/hostname';

/** EC2's instance metadata service, IPv4 and IPv6: it hands out the node's IAM credentials. */
export const INSTANCE_METADATA_CIDRS: readonly string[] = ['169.254.169.254/32', 'fd00:ec2::254/128'];

/** Pods (by namespace and labels) that may open a connection to, or receive one from, simulation pods. */
export interface PeerSelector {
  namespaceSelector?: V1LabelSelector;
  podSelector?: V1LabelSelector;
}

/** A destination outside the deployment an operator lets simulation pods reach. */
export interface EgressDestination {
  cidr: string;
  /** Every port when left out. */
  ports?: readonly { protocol?: 'TCP' | 'UDP' | 'SCTP'; port: number; endPort?: number }[];
}

/** What the manifests need beyond the request: the adapter's configuration. */
export interface ManifestSettings {
  namespace: string;
  simulatorPort: number;
  /** Who may open the simulator's port from outside the deployment: the gateway's pods, an ingress controller's. */
  simulatorClients: readonly PeerSelector[];
  /** @deprecated A CIDR let in to the simulator's port; on EKS a VPC range covers every pod. Use `simulatorClients`. */
  controlPlaneCidr?: string;
  /** Where cluster DNS runs; pods may reach it on port 53 and nothing else there. */
  clusterDns: PeerSelector;
  /** Destinations every simulation pod may reach, besides DNS and its own deployment's pods. */
  allowedEgress: readonly EgressDestination[];
  /** Cut out of every allowed destination: instance metadata, the API server, whatever the operator adds. */
  deniedEgressCidrs: readonly string[];
  imagePullSecrets: readonly string[];
  runAsNonRoot: boolean;
  resources: ResourceSettings;
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

const DNS_PORTS: V1NetworkPolicyPort[] = [
  { protocol: 'UDP', port: 53 },
  { protocol: 'TCP', port: 53 },
];

/**
 * The operator's destinations as ipBlocks, each with every denied range inside it cut out:
 * allowing 0.0.0.0/0 must not open the metadata address or the API server. An `except`
 * must be a strict subset of its block, so only the ranges inside it are listed.
 */
function allowedEgressRules(settings: ManifestSettings): V1NetworkPolicyEgressRule[] {
  return settings.allowedEgress.map((destination) => {
    const except = settings.deniedEgressCidrs.filter((denied) => isStrictSubset(denied, destination.cidr));
    return {
      to: [{ ipBlock: { cidr: destination.cidr, ...(except.length > 0 ? { except } : {}) } }],
      ...(destination.ports ? { ports: destination.ports.map((p) => ({ protocol: p.protocol ?? 'TCP', port: p.port, ...(p.endPort ? { endPort: p.endPort } : {}) })) } : {}),
    };
  });
}

function allowList(deploymentId: string, pod: IndexedPod, settings: ManifestSettings) {
  const simulatorPort: V1NetworkPolicyPort[] = [{ protocol: 'TCP', port: settings.simulatorPort }];
  const ingress: V1NetworkPolicyIngressRule[] = [];
  const egress: V1NetworkPolicyEgressRule[] = [{ to: [settings.clusterDns], ports: DNS_PORTS }];
  switch (pod.role) {
    case 'simulator': {
      ingress.push({ _from: [peer(deploymentId, 'bridge')], ports: simulatorPort });
      const clients: V1NetworkPolicyPeer[] = [
        ...settings.simulatorClients.map((client) => ({ ...client })),
        ...(settings.controlPlaneCidr ? [{ ipBlock: { cidr: settings.controlPlaneCidr } }] : []),
      ];
      if (clients.length > 0) ingress.push({ _from: clients, ports: simulatorPort });
      egress.push({ to: [peer(deploymentId, 'bridge')] });
      break;
    }
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
  egress.push(...allowedEgressRules(settings));
  return { ingress, egress };
}

/**
 * A default-deny of both directions for the whole deployment, then per pod the traffic it
 * needs: DNS, its partners in the deployment, the simulator's clients, and what the operator
 * allows. Policies add up, so whatever no allow-list names stays denied.
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
          ...allowList(deploymentId, pod, settings),
        },
      }),
    );
  return [defaultDeny, ...perPod];
}

/**
 * Which node each pod goes to: the simulator to the simulator node; robot i and bridge i to
 * robots node i mod n, so a pair always shares a node and n robots nodes carry the robots
 * evenly. Also how many pods share that node, for their default resources.
 */
export function placePods(request: WorkloadRequest): Map<string, { node: NodeRecord; sharing: number; pinByName: boolean }> {
  const byRole = (role: NodeRecord['role']) => request.nodes.filter((n) => n.role === role).sort((a, b) => a.index - b.index);
  const simulatorNodes = byRole('simulator');
  const robotNodes = byRole('robots');
  const placed = new Map<string, { node: NodeRecord; sharing: number; pinByName: boolean }>();
  const onNode = new Map<NodeRecord, number>();
  const indexed = indexPods(request.plan.pods);
  const nodeOf = (pod: IndexedPod): NodeRecord | undefined =>
    pod.nodeRole === 'simulator' ? simulatorNodes[0] : robotNodes[(pod.robotIndex ?? 0) % Math.max(1, robotNodes.length)];
  for (const pod of indexed) {
    const node = nodeOf(pod);
    if (node) onNode.set(node, (onNode.get(node) ?? 0) + 1);
  }
  for (const pod of indexed) {
    const node = nodeOf(pod);
    if (!node) continue;
    const several = (pod.nodeRole === 'simulator' ? simulatorNodes : robotNodes).length > 1;
    placed.set(pod.name, { node, sharing: onNode.get(node) ?? 1, pinByName: several && Boolean(node.nodeName) });
  }
  return placed;
}

/** No privilege escalation and no capabilities: a user's image gets nothing a plain process would not have. */
const restrictiveContainer = () => ({ allowPrivilegeEscalation: false, privileged: false, capabilities: { drop: ['ALL'] } });

/**
 * Pods are pinned with a nodeSelector on the node-restriction.kubernetes.io/ labels that only
 * the control plane can set (checkNodesJoined puts them on the deployment's nodes), not with
 * `nodeName`: nodeName skips the scheduler (no resource fit, no taint checks). The toleration
 * lets them onto nodes tainted as dedicated to the deployment, where nothing else lands.
 */
export function buildPod(request: WorkloadRequest, pod: IndexedPod, settings: ManifestSettings): V1Pod {
  const { deploymentId, spec } = request;
  const isSimulator = pod.role === 'simulator';
  const simulatorService = request.plan.services[0];
  const placement = placePods(request).get(pod.name);
  const instanceType = placement?.node.instanceType ?? spec.nodeInstanceType;
  const env = [
    { name: 'SIMDEPLOY_DEPLOYMENT_ID', value: deploymentId },
    { name: 'WORLD', value: spec.world },
    ...(pod.robot === undefined ? [] : [{ name: 'ROBOT_NAME', value: pod.robot }]),
    ...(pod.role === 'bridge' && simulatorService !== undefined
      ? [{ name: 'SIMULATOR_ADDRESS', value: `${simulatorService}:${settings.simulatorPort}` }]
      : []),
  ];
  const resources = isSimulator
    ? resourcesFor(instanceType, spec.resources?.simulator, placement?.sharing ?? 1, gpusOf(instanceType, settings.resources), settings.resources)
    : resourcesFor(instanceType, pod.role === 'robot' ? spec.resources?.robot : undefined, placement?.sharing ?? 1, 0, settings.resources);
  const tolerations: V1Toleration[] = [{ key: DEDICATED_TAINT_KEY, operator: 'Equal', value: deploymentId, effect: 'NoSchedule' }];
  // GPU node images commonly taint their nodes so that only pods asking for a GPU land there.
  if (resources.limits?.[GPU_RESOURCE]) tolerations.push({ key: GPU_RESOURCE, operator: 'Exists', effect: 'NoSchedule' });
  const container: V1Container = {
    name: pod.role,
    image: pod.image,
    env,
    resources,
    securityContext: restrictiveContainer(),
    ...(isSimulator
      ? {
          ports: [{ name: 'simulator', containerPort: settings.simulatorPort, protocol: 'TCP' }],
          readinessProbe: { tcpSocket: { port: settings.simulatorPort }, periodSeconds: 5, failureThreshold: 3 },
        }
      : {}),
  };
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
      // Simulation containers have no business with the Kubernetes API, nor with the other services' addresses.
      automountServiceAccountToken: false,
      enableServiceLinks: false,
      securityContext: {
        seccompProfile: { type: 'RuntimeDefault' },
        ...(settings.runAsNonRoot ? { runAsNonRoot: true } : {}),
      },
      ...(settings.imagePullSecrets.length > 0 ? { imagePullSecrets: settings.imagePullSecrets.map((name) => ({ name })) } : {}),
      nodeSelector: {
        [NODE_RESTRICTED_DEPLOYMENT_LABEL]: deploymentId,
        [NODE_RESTRICTED_ROLE_LABEL]: pod.nodeRole,
        ...(placement?.pinByName && placement.node.nodeName ? { [HOSTNAME_LABEL]: placement.node.nodeName } : {}),
      },
      tolerations,
      containers: [container],
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
