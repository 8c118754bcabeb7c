import type { NodePlan, NodeRole, SimulationSpec, WorkloadPlan } from './events';

/**
 * Deployment ids become parts of Kubernetes object names and EC2 client tokens, so they
 * are lower-case DNS labels short enough for both (names <= 63, ClientToken <= 64 chars).
 */
export const DEPLOYMENT_ID_PATTERN = /^[a-z0-9]([a-z0-9-]{0,38}[a-z0-9])?$/;

export const isValidDeploymentId = (id: string): boolean => DEPLOYMENT_ID_PATTERN.test(id);

/** Derived from the deployment, role and index only, so every retry sends the same token. */
export const clientTokenFor = (deploymentId: string, role: NodeRole, index: number): string =>
  `sd-${deploymentId}-${role}-${index}`;

export const resourcePrefix = (deploymentId: string): string => `sim-${deploymentId}`;

/** One machine for the simulator and, when there are robots, one for the robot pods. */
export function planNodes(deploymentId: string, spec: SimulationSpec): NodePlan[] {
  const roles: NodeRole[] = spec.robots.length > 0 ? ['simulator', 'robots'] : ['simulator'];
  return roles.map((role) => ({
    role,
    index: 0,
    clientToken: clientTokenFor(deploymentId, role, 0),
    instanceType: spec.nodeInstanceType,
  }));
}

/**
 * The simulator pod and its service, and per robot a robot pod and the bridge that links it
 * to the simulator; a network policy per pod. Names come from the deployment id alone, so a
 * retry or an undo finds the same objects.
 */
export function planWorkload(deploymentId: string, spec: SimulationSpec): WorkloadPlan {
  const prefix = resourcePrefix(deploymentId);
  const simulator = `${prefix}-gzserver`;
  const pods: WorkloadPlan['pods'][number][] = [
    { name: simulator, role: 'simulator', image: spec.simulatorImage, nodeRole: 'simulator' },
  ];
  spec.robots.forEach((robot, i) => {
    pods.push({ name: `${prefix}-robot-${i}`, role: 'robot', image: robot.image, nodeRole: 'robots', robot: robot.name });
    pods.push({ name: `${prefix}-bridge-${i}`, role: 'bridge', image: spec.simulatorImage, nodeRole: 'robots', robot: robot.name });
  });
  return { pods, services: [simulator], networkPolicies: pods.map((p) => p.name) };
}
