import { planWorkload } from '@simdeploy/domain';
import type { NodeRecord, SimulationSpec } from '@simdeploy/domain';
import nock from 'nock';
import { KubernetesPodRuntime } from '../../src';
import type { KubernetesPodRuntimeConfig, WorkloadRequest } from '../../src';
import { FAKE_SERVER, FakeCluster, kubeConfigFor, resetFakeApi } from './fake-kubernetes-api';

export const NS = 'simdeploy';
export const ID = 'd1';
export const DEPLOYMENT = 'simdeploy.io/deployment-id=d1';
export const POLICIES = `/apis/networking.k8s.io/v1/namespaces/${NS}/networkpolicies`;
export const PODS = `/api/v1/namespaces/${NS}/pods`;
export const SERVICES = `/api/v1/namespaces/${NS}/services`;

export const spec: SimulationSpec = {
  world: 'warehouse',
  simulatorImage: 'registry.test/gzserver:11',
  robots: [{ name: 'scout', image: 'registry.test/scout:2' }],
  nodeInstanceType: 'm5.large',
  labels: {},
};
export const plan = planWorkload(ID, spec);
export const SIM_NODE = 'ip-10-0-1-1';
export const ROBOT_NODE = 'ip-10-0-1-2';
export const nodes: NodeRecord[] = [
  { role: 'simulator', index: 0, clientToken: 't0', instanceType: 'm5.large', instanceId: 'i-1', nodeName: SIM_NODE },
  { role: 'robots', index: 0, clientToken: 't1', instanceType: 'm5.large', instanceId: 'i-2', nodeName: ROBOT_NODE },
];
export const request: WorkloadRequest = { deploymentId: ID, owner: 'alice@example.com', spec, plan, nodes };

/** A runtime on the given cluster's clock. */
export function runtimeFor(cluster: FakeCluster, options: Partial<KubernetesPodRuntimeConfig> = {}): KubernetesPodRuntime {
  return new KubernetesPodRuntime({ kubeConfig: kubeConfigFor(FAKE_SERVER), controlPlaneCidr: '10.0.0.0/24', now: cluster.clock.now, ...options });
}

/** A fresh in-memory cluster with the deployment's two nodes joined, and a runtime on the same clock. */
export function setup(options: Partial<KubernetesPodRuntimeConfig> = {}) {
  const cluster = new FakeCluster();
  for (const node of nodes) {
    cluster.addNode(node.nodeName ?? '', { labels: { 'simdeploy.io/deployment-id': ID, 'simdeploy.io/node-role': node.role } });
  }
  const runtime = runtimeFor(cluster, options);
  return { cluster, runtime, clock: cluster.clock };
}

/** Creates the workload and lets the scheduler bind each pod to its role's node. */
export async function launched(options: Parameters<typeof setup>[0] = {}) {
  const context = setup(options);
  await context.runtime.createWorkload(request);
  for (const pod of plan.pods) context.cluster.schedule(pod.name, pod.nodeRole === 'simulator' ? SIM_NODE : ROBOT_NODE);
  return context;
}

/** Nothing leaves the machine; each test starts with no interceptor left over. */
export function useFakeApi(): void {
  beforeAll(() => {
    nock.disableNetConnect();
    nock.enableNetConnect('127.0.0.1');
  });
  afterEach(resetFakeApi);
  afterAll(() => {
    nock.enableNetConnect();
    nock.restore();
  });
}
