import { randomBytes } from 'node:crypto';
import { CoreV1Api, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { planWorkload } from '@simdeploy/domain';
import type { NodeRecord, NodeRole, SimulationSpec } from '@simdeploy/domain';
import { waitFor } from '@simdeploy/testing';
import {
  DEPLOYMENT_TAG,
  KubernetesPodRuntime,
  NODE_RESTRICTED_DEPLOYMENT_LABEL,
  NODE_RESTRICTED_ROLE_LABEL,
  NODE_ROLE_TAG,
  ProviderError,
  loadDefaultKubeConfig,
} from '../../src';
import type { ReadinessCheck } from '../../src';

/**
 * Opt-in: runs against the cluster KUBECONFIG points at. It labels one or two Ready nodes as
 * the deployment's (the EC2 bootstrap does that in production), runs tiny images in
 * SIMDEPLOY_K8S_NAMESPACE (default `default`), waits until ready, deletes everything and
 * removes the labels. A second case holds a pod Terminating (a finalizer, on a cordoned
 * node) to see deletion report it and a create meet "object is being deleted". It never
 * deletes nodes, and uncordons what it cordoned.
 */
const env = process.env;

if (!env.KUBECONFIG) {
  it.skip('Kubernetes live test skipped: set KUBECONFIG', () => undefined);
} else {
  describe('KubernetesPodRuntime against a live cluster', () => {
    const kubeConfig = loadDefaultKubeConfig();
    const core = kubeConfig.makeApiClient(CoreV1Api);
    const namespace = env.SIMDEPLOY_K8S_NAMESPACE ?? 'default';
    const deploymentId = `live-${randomBytes(4).toString('hex')}`;
    // The simulator image must listen on the simulator port for its readiness probe.
    const runtime = new KubernetesPodRuntime({
      kubeConfig,
      namespace,
      simulatorPort: 80,
      deleteGracePeriodSeconds: 1,
    });
    const labelled: string[] = [];
    const cordoned: string[] = [];
    const HOLD = 'simdeploy.io/live-test-hold';

    const setNodeLabels = (name: string, labels: Record<string, string | null>) =>
      core.patchNode(
        { name, body: { metadata: { labels } } },
        setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
      );

    const setPodFinalizers = (name: string, finalizers: string[] | null) =>
      core.patchNamespacedPod(
        { name, namespace, body: { metadata: { finalizers } } },
        setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
      );
    const setUnschedulable = (name: string, unschedulable: boolean) =>
      core.patchNode({ name, body: { spec: { unschedulable } } }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch));

    afterAll(async () => {
      const held = await core.listNamespacedPod({ namespace, labelSelector: `${DEPLOYMENT_TAG}=${deploymentId}` }).catch(() => ({ items: [] }));
      await Promise.all(held.items.map((pod) => setPodFinalizers(pod.metadata?.name ?? '', null).catch(() => undefined)));
      await runtime.deleteWorkload(deploymentId).catch(() => undefined);
      await Promise.all(cordoned.map((name) => setUnschedulable(name, false).catch(() => undefined)));
      await Promise.all(
        labelled.map((name) =>
          setNodeLabels(name, {
            [DEPLOYMENT_TAG]: null,
            [NODE_ROLE_TAG]: null,
            [NODE_RESTRICTED_DEPLOYMENT_LABEL]: null,
            [NODE_RESTRICTED_ROLE_LABEL]: null,
          }).catch(() => undefined),
        ),
      );
    });

    /** Labels the first Ready node as the deployment's simulator node and waits until the runtime calls it ready. */
    async function simulatorNodeOnly(): Promise<NodeRecord[]> {
      const ready = (await core.listNode()).items.filter(
        (node) => !node.spec?.unschedulable && node.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'),
      );
      expect(ready.length).toBeGreaterThan(0);
      const name = ready[0].metadata?.name ?? '';
      await setNodeLabels(name, { [DEPLOYMENT_TAG]: deploymentId, [NODE_ROLE_TAG]: 'simulator' });
      if (!labelled.includes(name)) labelled.push(name);
      await waitFor(async () => (await runtime.checkNodesJoined(deploymentId, [name])).state === 'ready', {
        timeoutMs: 30_000,
        description: 'labelled node reported ready',
      });
      return [{ role: 'simulator', index: 0, clientToken: 'live-simulator', instanceType: 'existing', nodeName: name }];
    }

    it('creates a workload, sees it ready, deletes it and sees it gone', async () => {
      const ready = (await core.listNode()).items.filter(
        (node) => !node.spec?.unschedulable && node.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'),
      );
      expect(ready.length).toBeGreaterThan(0);
      const roles: NodeRole[] = ready.length > 1 ? ['simulator', 'robots'] : ['simulator'];
      const nodes: NodeRecord[] = [];
      for (const [index, role] of roles.entries()) {
        const name = ready[index].metadata?.name ?? '';
        await setNodeLabels(name, { [DEPLOYMENT_TAG]: deploymentId, [NODE_ROLE_TAG]: role });
        labelled.push(name);
        nodes.push({ role, index: 0, clientToken: `live-${role}`, instanceType: 'existing', nodeName: name });
      }

      const spec: SimulationSpec = {
        world: 'empty',
        simulatorImage: env.SIMDEPLOY_LIVE_SIMULATOR_IMAGE ?? 'nginx:1.27-alpine',
        robots: roles.includes('robots') ? [{ name: 'pause', image: 'registry.k8s.io/pause:3.10' }] : [],
        nodeInstanceType: 'existing',
        labels: {},
      };
      const plan = planWorkload(deploymentId, spec);
      const nodeNames = nodes.map((n) => n.nodeName ?? '');

      await waitFor(async () => (await runtime.checkNodesJoined(deploymentId, nodeNames)).state === 'ready', {
        timeoutMs: 30_000,
        description: 'labelled nodes reported ready',
      });

      await runtime.createWorkload({ deploymentId, owner: 'live-test', spec, plan, nodes });
      // Creating again must change nothing.
      await runtime.createWorkload({ deploymentId, owner: 'live-test', spec, plan, nodes });

      let last: ReadinessCheck = { state: 'pending' };
      await waitFor(
        async () => {
          last = await runtime.checkWorkload(deploymentId, plan.pods);
          if (last.state === 'failed') throw new Error(`workload failed: ${JSON.stringify(last)}`);
          return last.state === 'ready';
        },
        { timeoutMs: 240_000, intervalMs: 2_000, description: 'workload ready' },
      ).catch((error: Error) => {
        throw new Error(`${error.message}; last check: ${JSON.stringify(last)}`);
      });

      const managed = await runtime.listManagedWorkloads();
      expect(managed.find((w) => w.deploymentId === deploymentId)?.pods.sort()).toEqual(plan.pods.map((p) => p.name).sort());

      await waitFor(async () => (await runtime.deleteWorkload(deploymentId)).gone, {
        timeoutMs: 120_000,
        intervalMs: 2_000,
        description: 'workload gone',
      });
      expect((await runtime.listManagedWorkloads()).some((w) => w.deploymentId === deploymentId)).toBe(false);
    }, 420_000);

    it('reports a pod held Terminating on a cordoned node as not gone, and a create of its name as "being deleted"', async () => {
      const nodes = await simulatorNodeOnly();
      const spec: SimulationSpec = {
        world: 'empty',
        simulatorImage: env.SIMDEPLOY_LIVE_SIMULATOR_IMAGE ?? 'nginx:1.27-alpine',
        robots: [],
        nodeInstanceType: 'existing',
        labels: {},
      };
      const plan = planWorkload(deploymentId, spec);
      const simulator = plan.pods[0].name;
      await runtime.createWorkload({ deploymentId, owner: 'live-test', spec, plan, nodes });
      // A finalizer keeps the pod Terminating whatever its kubelet does, as a lost kubelet would.
      await setPodFinalizers(simulator, [HOLD]);
      const nodeName = nodes[0].nodeName ?? '';
      await setUnschedulable(nodeName, true);
      cordoned.push(nodeName);

      const deleting = await runtime.deleteWorkload(deploymentId);
      expect(deleting.gone).toBe(false);
      expect(deleting.detail).toContain(simulator);
      const held = await core.readNamespacedPod({ name: simulator, namespace });
      expect(held.metadata?.deletionTimestamp).toBeDefined();

      const error = await runtime.createWorkload({ deploymentId, owner: 'live-test', spec, plan, nodes }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ProviderError);
      expect(error).toMatchObject({ code: 'ObjectBeingDeleted', transient: true });

      await setPodFinalizers(simulator, null);
      await waitFor(async () => (await runtime.deleteWorkload(deploymentId)).gone, {
        timeoutMs: 120_000,
        intervalMs: 2_000,
        description: 'workload gone once the pod is released',
      });
    }, 300_000);
  });
}
