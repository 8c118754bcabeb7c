import { planWorkload } from '@simdeploy/domain';
import type { NodeRecord, SimulationSpec } from '@simdeploy/domain';
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1';
import { Pod, Service } from 'kubernetes-models/v1';
import { KubernetesPodRuntime } from '../../src';
import type { WorkloadRequest } from '../../src';
import { FAKE_SERVER, FakeCluster, kubeConfigFor, status } from './fake-kubernetes-api';
import type { Obj } from './fake-kubernetes-api';
import { ID, NS, ROBOT_NODE, SIM_NODE, request, runtimeFor, setup, useFakeApi } from './fixtures';

/**
 * What the runtime asks the cluster for, judged as a cluster operator would (issue 13):
 * isolation, dedicated nodes, pods that fit their nodes, a restrictive securityContext.
 */
useFakeApi();

const created = async (options: Parameters<typeof setup>[0] = {}, workload: WorkloadRequest = request) => {
  const { cluster, runtime } = setup(options);
  await runtime.createWorkload(workload);
  const byName = (resource: string) => new Map(cluster.created(resource).map((body) => [body.metadata.name as string, body]));
  return { cluster, policies: byName('networkpolicies'), pods: byName('pods'), services: byName('services') };
};

const egressPeers = (policy: Obj): Obj[] => (policy.spec.egress ?? []).flatMap((rule: Obj) => rule.to ?? [{ anywhere: true }]);

describe('every object the runtime builds', () => {
  it('is valid against the Kubernetes schemas (kubernetes-models), for a plan using every option', async () => {
    const spec: SimulationSpec = {
      world: 'warehouse',
      simulatorImage: 'registry.test/gzserver:11',
      robots: [1, 2, 3].map((i) => ({ name: `scout-${i}`, image: 'registry.test/scout:2' })),
      nodeInstanceType: 'g4dn.xlarge',
      labels: {},
      resources: { simulator: { cpu: '3', memory: '12Gi', gpu: 1 }, robot: { cpu: '500m', memory: '1Gi' } },
    };
    const nodes: NodeRecord[] = [
      { role: 'simulator', index: 0, clientToken: 't0', instanceType: 'g4dn.xlarge', nodeName: SIM_NODE },
      { role: 'robots', index: 0, clientToken: 't1', instanceType: 'm5.xlarge', nodeName: ROBOT_NODE },
      { role: 'robots', index: 1, clientToken: 't2', instanceType: 'm5.xlarge', nodeName: 'ip-10-0-1-3' },
    ];
    const { cluster } = await created(
      {
        imagePullSecrets: ['registry-credentials'],
        runAsNonRoot: true,
        allowedEgress: [{ cidr: '0.0.0.0/0', ports: [{ port: 443 }] }, { cidr: '::/0' }],
        apiServerCidrs: ['172.20.0.1/32', '10.0.12.34/32'],
        deniedEgressCidrs: ['10.0.0.0/16'],
      },
      { deploymentId: ID, owner: 'alice@example.com', spec, plan: planWorkload(ID, spec), nodes },
    );
    const bodies = cluster.requests.filter((r) => r.method === 'POST').map((r) => r.body as Obj);
    expect(bodies).toHaveLength(8 + 7 + 1);
    for (const body of bodies) {
      const model = { Pod, Service, NetworkPolicy }[body.kind as 'Pod' | 'Service' | 'NetworkPolicy'];
      expect(() => new model(body as never).validate()).not.toThrow();
    }
  });
});

describe('network isolation', () => {
  it('denies all ingress and egress of the deployment by default', async () => {
    const { policies } = await created();
    expect(policies.get('sim-d1-default-deny')?.spec).toEqual({
      podSelector: { matchLabels: { 'simdeploy.io/deployment-id': ID } },
      policyTypes: ['Ingress', 'Egress'],
    });
  });

  it('lets pods out only to cluster DNS and their own deployment\'s pods, with no allow-all rule', async () => {
    const { policies } = await created();
    for (const policy of policies.values()) {
      for (const rule of policy.spec.egress ?? []) expect(rule.to).toBeDefined();
      for (const to of egressPeers(policy)) {
        const isDns =
          to.namespaceSelector?.matchLabels?.['kubernetes.io/metadata.name'] === 'kube-system' && to.podSelector?.matchLabels?.['k8s-app'] === 'kube-dns';
        const isOwn = to.podSelector?.matchLabels?.['simdeploy.io/deployment-id'] === ID && to.namespaceSelector === undefined;
        expect({ policy: policy.metadata.name, to, allowed: isDns || isOwn }).toMatchObject({ allowed: true });
      }
    }
    const dnsRule = policies.get('sim-d1-robot-0')?.spec.egress[0];
    expect(dnsRule.ports).toEqual([{ protocol: 'UDP', port: 53 }, { protocol: 'TCP', port: 53 }]);
  });

  it('lets out only to operator-allowed destinations beyond that, with instance metadata and the API server cut out', async () => {
    const { policies } = await created({
      allowedEgress: [{ cidr: '0.0.0.0/0', ports: [{ port: 443 }] }, { cidr: '::/0' }, { cidr: '198.51.100.0/24' }],
      apiServerCidrs: ['172.20.0.1/32', '10.0.12.34/32'],
    });
    const egress = policies.get('sim-d1-gzserver')?.spec.egress as Obj[];
    expect(egress).toEqual(
      expect.arrayContaining([
        { to: [{ ipBlock: { cidr: '0.0.0.0/0', except: ['169.254.169.254/32', '172.20.0.1/32', '10.0.12.34/32'] } }], ports: [{ protocol: 'TCP', port: 443 }] },
        { to: [{ ipBlock: { cidr: '::/0', except: ['fd00:ec2::254/128'] } }] },
        { to: [{ ipBlock: { cidr: '198.51.100.0/24' } }] },
      ]),
    );
    // The same rules for robots and bridges.
    expect(policies.get('sim-d1-robot-0')?.spec.egress).toEqual(expect.arrayContaining([egress[egress.length - 1]]));
  });

  it('refuses a configuration that is not a CIDR, naming the setting', () => {
    expect(() => runtimeFor(new FakeCluster(), { allowedEgress: [{ cidr: 'example.com' }] })).toThrow('allowedEgress: "example.com" is not an IPv4 or IPv6 CIDR');
    expect(() => runtimeFor(new FakeCluster(), { apiServerCidrs: ['10.0.0.300/32'] })).toThrow(/apiServerCidrs/);
  });

  it('lets the gateway\'s pods, chosen by namespace and labels, and the bridges reach the simulator\'s port, and nothing else', async () => {
    const gateway = {
      namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'ingress-nginx' } },
      podSelector: { matchLabels: { 'app.kubernetes.io/name': 'ingress-nginx' } },
    };
    const { policies } = await created({ simulatorClients: [gateway], controlPlaneCidr: undefined });
    expect(policies.get('sim-d1-gzserver')?.spec.ingress).toEqual([
      {
        from: [{ podSelector: { matchLabels: { 'simdeploy.io/deployment-id': ID, 'simdeploy.io/pod-role': 'bridge' } } }],
        ports: [{ protocol: 'TCP', port: 11345 }],
      },
      { from: [gateway], ports: [{ protocol: 'TCP', port: 11345 }] },
    ]);
    const ipBlocks = [...policies.values()].flatMap((p) => (p.spec.ingress ?? []).flatMap((rule: Obj) => rule.from ?? [])).filter((peer: Obj) => peer.ipBlock);
    expect(ipBlocks).toEqual([]);
  });
});

describe('dedicated nodes', () => {
  it('makes pods tolerate the deployment\'s NoSchedule taint and pins them on the labels only the control plane sets', async () => {
    const { pods } = await created();
    for (const pod of pods.values()) {
      expect(pod.spec.tolerations).toContainEqual({ key: 'simdeploy.io/deployment-id', operator: 'Equal', value: ID, effect: 'NoSchedule' });
      expect(Object.keys(pod.spec.nodeSelector).every((key) => key.startsWith('node-restriction.kubernetes.io/'))).toBe(true);
    }
    expect(pods.get('sim-d1-gzserver')?.spec.nodeSelector).toEqual({
      'node-restriction.kubernetes.io/simdeploy-deployment-id': ID,
      'node-restriction.kubernetes.io/simdeploy-node-role': 'simulator',
    });
    expect(pods.get('sim-d1-robot-0')?.spec.nodeSelector).toEqual({
      'node-restriction.kubernetes.io/simdeploy-deployment-id': ID,
      'node-restriction.kubernetes.io/simdeploy-node-role': 'robots',
    });
  });

  it('puts those labels on each joined node with a merge patch before reporting the nodes ready', async () => {
    const { cluster, runtime } = setup();
    await expect(runtime.checkNodesJoined(ID, [SIM_NODE, ROBOT_NODE])).resolves.toEqual({ state: 'ready' });
    const patches = cluster.requests.filter((r) => r.method === 'PATCH');
    expect(patches.map((r) => r.headers['content-type'])).toEqual(['application/merge-patch+json', 'application/merge-patch+json']);
    expect(cluster.get('nodes', SIM_NODE)?.metadata.labels).toMatchObject({
      'node-restriction.kubernetes.io/simdeploy-deployment-id': ID,
      'node-restriction.kubernetes.io/simdeploy-node-role': 'simulator',
    });
    expect(cluster.get('nodes', ROBOT_NODE)?.metadata.labels).toMatchObject({ 'node-restriction.kubernetes.io/simdeploy-node-role': 'robots' });
    // Labelled once: a second check patches nothing.
    await runtime.checkNodesJoined(ID, [SIM_NODE, ROBOT_NODE]);
    expect(cluster.requests.filter((r) => r.method === 'PATCH')).toHaveLength(2);
  });

  it('is not ready when the labels cannot be applied', async () => {
    const { cluster, runtime } = setup();
    cluster.failNext('PATCH', /\/nodes\//, 403, status(403, 'Forbidden', 'nodes "ip-10-0-1-1" is forbidden: User "launcher" cannot patch resource "nodes"'));
    await expect(runtime.checkNodesJoined(ID, [SIM_NODE, ROBOT_NODE])).rejects.toMatchObject({ code: 'Forbidden', transient: false });
  });

  it('spreads robot i and bridge i over the robots nodes (i mod n), pinned by node name', async () => {
    const spec: SimulationSpec = { ...request.spec, robots: [0, 1, 2].map((i) => ({ name: `scout-${i}`, image: 'registry.test/scout:2' })) };
    const nodes: NodeRecord[] = [
      { role: 'simulator', index: 0, clientToken: 't0', instanceType: 'm5.large', nodeName: SIM_NODE },
      { role: 'robots', index: 0, clientToken: 't1', instanceType: 'm5.large', nodeName: 'robots-a' },
      { role: 'robots', index: 1, clientToken: 't2', instanceType: 'm5.large', nodeName: 'robots-b' },
    ];
    const { pods } = await created({}, { ...request, spec, plan: planWorkload(ID, spec), nodes });
    const hostOf = (name: string) => pods.get(name)?.spec.nodeSelector['kubernetes.io/hostname'];
    expect(['robot-0', 'bridge-0', 'robot-1', 'bridge-1', 'robot-2', 'bridge-2'].map((p) => hostOf(`sim-d1-${p}`))).toEqual([
      'robots-a', 'robots-a', 'robots-b', 'robots-b', 'robots-a', 'robots-a',
    ]);
    expect(hostOf('sim-d1-gzserver')).toBeUndefined();
  });
});

describe('pods that fit their nodes', () => {
  const resourcesOf = (pod: Obj | undefined) => pod?.spec.containers[0].resources;

  it('asks for a share of the node by instance type by default, requests equal to limits', async () => {
    const { pods } = await created();
    // m5.large: 2 vCPU, 8 GiB; 75 % of it for the simulator alone, shared by robot and bridge on the robots node.
    expect(resourcesOf(pods.get('sim-d1-gzserver'))).toEqual({ requests: { cpu: '1500m', memory: '6144Mi' }, limits: { cpu: '1500m', memory: '6144Mi' } });
    expect(resourcesOf(pods.get('sim-d1-robot-0'))).toEqual({ requests: { cpu: '750m', memory: '3072Mi' }, limits: { cpu: '750m', memory: '3072Mi' } });
    expect(resourcesOf(pods.get('sim-d1-bridge-0'))).toEqual(resourcesOf(pods.get('sim-d1-robot-0')));
  });

  it('takes CPU, memory and GPUs from the spec, tolerating the GPU taint where a GPU is asked for', async () => {
    const spec: SimulationSpec = { ...request.spec, resources: { simulator: { cpu: '3', memory: '12Gi', gpu: 1 }, robot: { cpu: '500m', memory: '1Gi', gpu: 1 } } };
    const { pods } = await created({}, { ...request, spec });
    expect(resourcesOf(pods.get('sim-d1-gzserver'))).toEqual({
      requests: { cpu: '3', memory: '12Gi', 'nvidia.com/gpu': '1' },
      limits: { cpu: '3', memory: '12Gi', 'nvidia.com/gpu': '1' },
    });
    expect(resourcesOf(pods.get('sim-d1-robot-0')).limits).toEqual({ cpu: '500m', memory: '1Gi', 'nvidia.com/gpu': '1' });
    expect(resourcesOf(pods.get('sim-d1-bridge-0')).limits['nvidia.com/gpu']).toBeUndefined();
    expect(pods.get('sim-d1-gzserver')?.spec.tolerations).toContainEqual({ key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' });
  });

  it('gives the simulator the GPU of a GPU instance, and uses the operator\'s table or the fallback for other types', async () => {
    const gpu = await created({}, { ...request, nodes: request.nodes.map((n) => ({ ...n, instanceType: 'g4dn.xlarge' })) });
    expect(resourcesOf(gpu.pods.get('sim-d1-gzserver')).limits).toEqual({ cpu: '3000m', memory: '12288Mi', 'nvidia.com/gpu': '1' });
    expect(resourcesOf(gpu.pods.get('sim-d1-robot-0')).limits['nvidia.com/gpu']).toBeUndefined();
  });

  it('uses the operator\'s instance sizes and the fallback for unknown types', async () => {
    const nodes = request.nodes.map((n) => ({ ...n, instanceType: n.role === 'simulator' ? 'x9.huge' : 'unknown.type' }));
    const { pods } = await created({ instanceSizes: { 'x9.huge': { vcpus: 16, memoryMiB: 65536 } } }, { ...request, nodes });
    expect(resourcesOf(pods.get('sim-d1-gzserver')).limits).toEqual({ cpu: '12000m', memory: '49152Mi' });
    expect(resourcesOf(pods.get('sim-d1-robot-0')).limits).toEqual({ cpu: '750m', memory: '1536Mi' });
  });
});

describe('a restrictive pod by default', () => {
  it('drops every capability, forbids privilege escalation, uses the RuntimeDefault seccomp profile and mounts no token', async () => {
    const { pods } = await created();
    for (const pod of pods.values()) {
      expect(pod.spec).toMatchObject({
        automountServiceAccountToken: false,
        enableServiceLinks: false,
        restartPolicy: 'Never',
        securityContext: { seccompProfile: { type: 'RuntimeDefault' } },
      });
      expect(pod.spec.securityContext.runAsNonRoot).toBeUndefined();
      expect(pod.spec.imagePullSecrets).toBeUndefined();
      expect(pod.spec.containers[0].securityContext).toEqual({ allowPrivilegeEscalation: false, privileged: false, capabilities: { drop: ['ALL'] } });
    }
  });

  it('refuses root images and pulls with the configured secrets when the operator says so', async () => {
    const { pods } = await created({ runAsNonRoot: true, imagePullSecrets: ['registry-credentials'] });
    expect(pods.get('sim-d1-robot-0')?.spec).toMatchObject({
      securityContext: { runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } },
      imagePullSecrets: [{ name: 'registry-credentials' }],
    });
  });
});

describe('simulatorEndpoint', () => {
  it('is null until the simulator Service exists, then its in-cluster URL', async () => {
    const { runtime } = setup();
    await expect(runtime.simulatorEndpoint(ID)).resolves.toBeNull();
    await runtime.createWorkload(request);
    await expect(runtime.simulatorEndpoint(ID)).resolves.toEqual({ url: `http://sim-d1-gzserver.${NS}.svc.cluster.local:11345` });
  });
});

describe('readLogs', () => {
  it('gives the last lines of one of the deployment\'s pods, and nothing of another deployment\'s', async () => {
    const { cluster, runtime } = setup();
    await runtime.createWorkload(request);
    cluster.schedule('sim-d1-gzserver', SIM_NODE);
    cluster.run('sim-d1-gzserver');
    cluster.setLogs('sim-d1-gzserver', 'one\ntwo\nthree\n');
    await expect(runtime.readLogs(ID, 'sim-d1-gzserver', 2)).resolves.toEqual(['two', 'three']);
    await expect(runtime.readLogs('d2', 'sim-d1-gzserver', 2)).resolves.toEqual([]);
    await expect(runtime.readLogs(ID, 'no-such-pod', 2)).resolves.toEqual([]);
    await expect(runtime.readLogs(ID, 'sim-d1-gzserver', 0)).resolves.toEqual([]);
    // Waiting on its image: the server says 400 "waiting to start", which means no logs.
    cluster.schedule('sim-d1-robot-0', ROBOT_NODE);
    await expect(runtime.readLogs(ID, 'sim-d1-robot-0', 2)).resolves.toEqual([]);
  });
});

describe('batched checks', () => {
  it('checks many deployments\' workloads with one pod list per chunk of deployments', async () => {
    const { cluster, runtime } = setup({ batchSize: 2 });
    const ids = ['a1', 'a2', 'a3'];
    for (const id of ids) {
      const workload = { ...request, deploymentId: id, plan: planWorkload(id, request.spec) };
      await runtime.createWorkload(workload);
      for (const pod of workload.plan.pods) {
        cluster.schedule(pod.name, pod.nodeRole === 'simulator' ? SIM_NODE : ROBOT_NODE);
        cluster.run(pod.name, { ready: id !== 'a2' });
      }
    }
    const before = cluster.requests.length;

    const answers = await runtime.checkWorkloadBatch(ids.map((id) => ({ deploymentId: id, pods: planWorkload(id, request.spec).pods })));

    expect(answers.get('a1')).toEqual({ state: 'ready' });
    expect(answers.get('a2')).toMatchObject({ state: 'pending' });
    expect(answers.get('a3')).toEqual({ state: 'ready' });
    expect(cluster.calls().slice(before)).toEqual([
      'GET /api/v1/namespaces/simdeploy/pods?labelSelector=simdeploy.io/deployment-id in (a1,a2)&limit=500',
      'GET /api/v1/namespaces/simdeploy/pods?labelSelector=simdeploy.io/deployment-id=a3&limit=500',
    ]);
  });

  it('checks many deployments\' nodes with one node list, leaving out a chunk whose list failed', async () => {
    const cluster = new FakeCluster();
    for (const id of ['n1', 'n2']) cluster.addNode(`node-${id}`, { labels: { 'simdeploy.io/deployment-id': id, 'simdeploy.io/node-role': 'simulator' } });
    const runtime = new KubernetesPodRuntime({ kubeConfig: kubeConfigFor(FAKE_SERVER), batchSize: 2, now: cluster.clock.now });
    cluster.failNext('GET', /^\/api\/v1\/nodes\?.*n3/, 503, status(503, 'ServiceUnavailable', 'etcd is busy'));

    const answers = await runtime.checkNodesJoinedBatch([
      { deploymentId: 'n1', nodeNames: ['node-n1'] },
      { deploymentId: 'n2', nodeNames: ['node-n2', 'node-x'] },
      { deploymentId: 'n3', nodeNames: ['node-n3'] },
    ]);

    expect(answers.get('n1')).toEqual({ state: 'ready' });
    expect(answers.get('n2')).toMatchObject({ state: 'pending', detail: 'waiting for nodes to join: node-x' });
    expect(answers.has('n3')).toBe(false);
    expect(cluster.calls().filter((c) => c.startsWith('GET /api/v1/nodes'))).toEqual([
      'GET /api/v1/nodes?labelSelector=simdeploy.io/deployment-id in (n1,n2)&limit=500',
      'GET /api/v1/nodes?labelSelector=simdeploy.io/deployment-id=n3&limit=500',
    ]);
  });
});
