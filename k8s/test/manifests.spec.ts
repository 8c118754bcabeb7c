import { CommonConfig, ErrorHandlerConfig, GatewayConfig, ProviderConfig, WorkerConfig, loadConfig } from '@simdeploy/config';
import { CommandKind, resolveTopology } from '@simdeploy/messaging';
import { metricsRegistry } from '@simdeploy/telemetry';
import { getMetadataStorage } from 'class-validator';
import { join } from 'node:path';
import { K8S, ROOT, find, kustomization, manifests, parseYaml, yamlFiles, type K8sObject } from './manifests';

/** The model that validates an object against its real schema: Kubernetes', KEDA's, the Prometheus operator's. */
function modelFor(apiVersion: string, kind: string): (new (data: unknown) => { validate(): void }) | undefined {
  const modules: Record<string, string> = {
    v1: 'kubernetes-models/v1',
    'apps/v1': 'kubernetes-models/apps/v1',
    'autoscaling/v2': 'kubernetes-models/autoscaling/v2',
    'policy/v1': 'kubernetes-models/policy/v1',
    'rbac.authorization.k8s.io/v1': 'kubernetes-models/rbac.authorization.k8s.io/v1',
    'keda.sh/v1alpha1': '@kubernetes-models/keda/keda.sh/v1alpha1',
    'monitoring.coreos.com/v1': '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1',
  };
  const path = modules[apiVersion];
  return path ? (require(path) as Record<string, new (data: unknown) => { validate(): void }>)[kind] : undefined;
}

const objects = manifests();
const configMap = find(objects, 'ConfigMap', 'simdeploy-config').data ?? {};
const deployments = objects.filter((m) => m.object.kind === 'Deployment').map((m) => m.object);
const WORKERS: Record<string, CommandKind> = { launcher: CommandKind.Launch, terminator: CommandKind.Terminate, 'error-handler': CommandKind.HandleFailure };

const container = (deployment: K8sObject) => deployment.spec.template.spec.containers[0];

/** Every variable a configuration class reads: its properties, as loadConfig sees them. */
function variablesOf(ConfigClass: new () => object): Set<string> {
  return new Set([
    ...Object.keys(new ConfigClass()),
    ...getMetadataStorage()
      .getTargetValidationMetadatas(ConfigClass, '', true, false)
      .map((m) => m.propertyName),
  ]);
}

/** The ConfigMap with its placeholders filled the way an operator would. */
const filled = (): Record<string, string> => ({
  ...configMap,
  EC2_CLUSTER_ENDPOINT: 'https://ABCDEF0123456789.gr7.eu-west-1.eks.amazonaws.com',
  EC2_CLUSTER_CA: Buffer.from('-----BEGIN CERTIFICATE-----').toString('base64'),
  EC2_SUBNET_IDS: 'subnet-0abc,subnet-0def',
  EC2_SECURITY_GROUP_IDS: 'sg-0abc',
  EC2_IMAGE_ID: 'ami-0abc',
  EC2_INSTANCE_PROFILE_ARN: 'arn:aws:iam::123456789012:instance-profile/simdeploy-node',
  LOG_ARCHIVE_S3_BUCKET: 'simdeploy-logs-prod',
});

describe('k8s/ against the real schemas', () => {
  it('kustomizations list exactly the manifests of their directory', () => {
    for (const dir of [K8S, join(K8S, 'monitoring')]) {
      const [k] = parseYaml(join(dir, 'kustomization.yaml')) as [{ resources: string[] }];
      expect([...k.resources].sort()).toEqual(yamlFiles(dir));
    }
  });

  it.each(objects.map((m) => [`${m.file} ${m.object.kind}/${m.object.metadata.name}`, m.object] as const))('%s is valid', (_, object) => {
    const Model = modelFor(object.apiVersion, object.kind);
    if (!Model) throw new Error(`no schema known for ${object.apiVersion} ${object.kind}: add its model to this test`);
    expect(() => new Model(object).validate()).not.toThrow();
  });

  it('a schema violation is caught (the validation is not a no-op)', () => {
    const launcher = structuredClone(find(objects, 'ScaledObject', 'launcher'));
    launcher.spec.triggers[0].metadata.lagThreshold = 10;
    const Model = modelFor(launcher.apiVersion, launcher.kind);
    expect(() => new (Model as NonNullable<typeof Model>)(launcher).validate()).toThrow(/lagThreshold must be string/);
  });
});

describe('autoscaling', () => {
  const scaledObjects = objects.filter((m) => m.object.kind === 'ScaledObject').map((m) => m.object);

  it('the launcher and the terminator each have a ScaledObject on their own consumer of the command stream', () => {
    const topology = resolveTopology({ streamName: configMap['COMMANDS_STREAM'] });
    expect(scaledObjects.map((s) => s.spec.scaleTargetRef.name).sort()).toEqual(['launcher', 'terminator']);
    for (const scaled of scaledObjects) {
      const target = scaled.spec.scaleTargetRef.name as string;
      expect(find(objects, 'Deployment', target).metadata.namespace).toBe(scaled.metadata.namespace);
      expect(scaled.spec.scaleTargetRef.kind ?? 'Deployment').toBe('Deployment');
      expect(scaled.spec.triggers).toHaveLength(1);
      const [trigger] = scaled.spec.triggers;
      expect(trigger.type).toBe('nats-jetstream');
      expect(trigger.metadata.stream).toBe(topology.streamName);
      expect(trigger.metadata.consumer).toBe(topology.consumerNames[WORKERS[target] as CommandKind]);
    }
  });

  it('the threshold is POOL_SIZE, and never scale to zero (a running replica fires the timers)', () => {
    for (const scaled of scaledObjects) {
      expect(scaled.spec.triggers[0].metadata.lagThreshold).toBe(configMap['POOL_SIZE']);
      expect(scaled.spec.minReplicaCount).toBeGreaterThanOrEqual(1);
      expect(scaled.spec.maxReplicaCount).toBeGreaterThan(scaled.spec.minReplicaCount);
    }
  });

  it('KEDA reads NATS monitoring from a Service defined here, on its monitoring port', () => {
    for (const scaled of scaledObjects) {
      const [host, port] = (scaled.spec.triggers[0].metadata.natsServerMonitoringEndpoint as string).split(':');
      const [name, namespace] = (host as string).split('.');
      const service = find(objects, 'Service', name as string);
      expect(service.metadata.namespace).toBe(namespace);
      expect(service.spec.ports.map((p: { port: number }) => String(p.port))).toContain(port);
    }
  });

  it('the gateway scales on CPU through an HPA, and its pods request CPU for it to measure against', () => {
    const hpa = find(objects, 'HorizontalPodAutoscaler', 'gateway');
    expect(hpa.spec.scaleTargetRef).toEqual({ apiVersion: 'apps/v1', kind: 'Deployment', name: 'gateway' });
    expect(hpa.spec.metrics.map((m: any) => m.resource?.name)).toEqual(['cpu']);
    expect(container(find(objects, 'Deployment', 'gateway')).resources.requests.cpu).toBeDefined();
  });

  it('no autoscaled Deployment sets replicas, and the error handler stays at two, never autoscaled', () => {
    const autoscaled = new Set([
      ...scaledObjects.map((s) => s.spec.scaleTargetRef.name),
      ...objects.filter((m) => m.object.kind === 'HorizontalPodAutoscaler').map((m) => m.object.spec.scaleTargetRef.name),
    ]);
    expect([...autoscaled].sort()).toEqual(['gateway', 'launcher', 'terminator']);
    for (const name of autoscaled) expect(find(objects, 'Deployment', name).spec).not.toHaveProperty('replicas');
    expect(find(objects, 'Deployment', 'error-handler').spec.replicas).toBe(2);
  });
});

describe('probes and metrics ports', () => {
  it.each(Object.keys(WORKERS))('%s: liveness /health and readiness /health/ready on METRICS_PORT, listening on every interface', (name) => {
    const c = container(find(objects, 'Deployment', name));
    const port = c.ports.find((p: { name: string }) => p.name === 'metrics');
    expect(String(port.containerPort)).toBe(configMap['METRICS_PORT']);
    expect(configMap['METRICS_HOST']).toBe('0.0.0.0');
    expect(c.livenessProbe.httpGet).toEqual({ path: '/health', port: 'metrics' });
    expect(c.readinessProbe.httpGet).toEqual({ path: '/health/ready', port: 'metrics' });
  });

  it('the PodMonitor scrapes the port every service names (http for the gateway, metrics for the workers)', () => {
    const monitor = find(objects, 'PodMonitor', 'simdeploy');
    const scraped = new Set(monitor.spec.podMetricsEndpoints.map((e: { port: string }) => e.port));
    for (const deployment of deployments) {
      const names = container(deployment).ports.map((p: { name: string }) => p.name);
      expect(names.some((n: string) => scraped.has(n))).toBe(true);
      expect(Object.entries(monitor.spec.selector.matchLabels).every(([k, v]) => deployment.spec.template.metadata.labels[k] === v)).toBe(true);
    }
  });
});

describe('the settings the services need', () => {
  it('every ConfigMap key is a setting some service reads (a typo would be ignored silently)', () => {
    const known = new Set([...variablesOf(ErrorHandlerConfig), ...variablesOf(GatewayConfig)]);
    expect(Object.keys(configMap).filter((key) => !known.has(key))).toEqual([]);
  });

  it('the ConfigMap, placeholders filled, starts every worker and the gateway', () => {
    expect(() => loadConfig(ErrorHandlerConfig, filled())).not.toThrow();
    expect(() => loadConfig(WorkerConfig, filled())).not.toThrow();
    expect(() => loadConfig(GatewayConfig, { ...filled(), JWT_SECRET: 'x'.repeat(32) })).not.toThrow();
  });

  it('names the AWS settings that AL2023 nodes and the sweep require, and the shared lease settings', () => {
    for (const key of ['INSTALLATION_ID', 'EC2_NODE_BOOTSTRAP', 'EC2_CLUSTER_ENDPOINT', 'EC2_CLUSTER_CA', 'EC2_CLUSTER_SERVICE_CIDR', 'LEADER_LEASE_TTL_MS', 'LEADER_LEASE_BUCKET']) {
      expect(configMap).toHaveProperty(key);
    }
    for (const key of [...variablesOf(WorkerConfig)].filter((k) => k.startsWith('K8S_'))) expect(configMap).toHaveProperty(key);
  });

  it('without the placeholders filled, a worker refuses to start and names what to set', () => {
    expect(() => loadConfig(WorkerConfig, configMap)).toThrow(/EC2_CLUSTER_CA/);
    expect(() => loadConfig(WorkerConfig, configMap)).toThrow(/LOG_ARCHIVE_S3_BUCKET: must be an S3 bucket name/);
  });

  it('docker-compose passes every worker setting of the ConfigMap to the workers', () => {
    const [compose] = parseYaml(join(ROOT, 'docker-compose.yml')) as [any];
    const workerEnv = Object.keys(compose.services.launcher.environment);
    const workerOnly = [...variablesOf(WorkerConfig)].filter((k) => !variablesOf(CommonConfig).has(k) && !k.startsWith('LOCAL_'));
    expect(workerOnly.filter((k) => k in configMap && !workerEnv.includes(k))).toEqual([]);
    expect(compose.services.nats.command).toEqual(expect.arrayContaining(['-m', '8222']));
  });
});

describe('the gateway reaches simulators and logs where the workers put them', () => {
  it('docker-compose gives the gateway the provider settings of the ConfigMap and the kubeconfig', () => {
    const [compose] = parseYaml(join(ROOT, 'docker-compose.yml')) as [any];
    const gatewayEnv = Object.keys(compose.services.gateway.environment);
    const provider = [...variablesOf(ProviderConfig)].filter((k) => !variablesOf(CommonConfig).has(k) && !k.startsWith('LOCAL_'));
    expect(provider.filter((k) => k in configMap && !gatewayEnv.includes(k))).toEqual([]);
    expect(gatewayEnv).toEqual(expect.arrayContaining(['LOG_ARCHIVE_S3_BUCKET', 'ACCESS_TOKEN_SECRET', 'PUBLIC_URL', 'KUBECONFIG']));
    expect(compose.services.gateway.volumes).toEqual(compose.services.launcher.volumes);
  });

  it('the gateway may read the simulations\' pods, their logs and services, and nothing else', () => {
    const binding = find(objects, 'RoleBinding', 'simdeploy-gateway');
    expect(binding.metadata.namespace).toBe(configMap['K8S_NAMESPACE']);
    expect(binding.subjects).toEqual([{ kind: 'ServiceAccount', name: 'simdeploy-gateway', namespace: 'simdeploy' }]);
    const role = find(objects, 'Role', (binding['roleRef'] as { name: string }).name);
    expect(role.rules).toEqual([
      { apiGroups: [''], resources: ['pods', 'services'], verbs: ['get', 'list'] },
      { apiGroups: [''], resources: ['pods/log'], verbs: ['get'] },
    ]);
    const gateway = deployments.find((d) => d.metadata.name === 'gateway') as K8sObject;
    expect(gateway.spec.template.spec.automountServiceAccountToken).toBe(true);
  });
});

describe('namespaces and RBAC', () => {
  it('the simulations namespace enforces Pod Security baseline and warns and audits restricted', () => {
    expect(find(objects, 'Namespace', 'simdeploy-sims').metadata.labels).toMatchObject({
      'pod-security.kubernetes.io/enforce': 'baseline',
      'pod-security.kubernetes.io/warn': 'restricted',
      'pod-security.kubernetes.io/audit': 'restricted',
    });
    expect(configMap['K8S_NAMESPACE']).toBe('simdeploy-sims');
  });

  it('the workers may read disruption budgets, to name the one that blocks a drain', () => {
    const rules = find(objects, 'ClusterRole', 'simdeploy-nodes').rules as { apiGroups: string[]; resources: string[]; verbs: string[] }[];
    expect(rules).toContainEqual({ apiGroups: ['policy'], resources: ['poddisruptionbudgets'], verbs: ['get', 'list'] });
  });
});

describe('alerts', () => {
  const rules = find(objects, 'PrometheusRule', 'simdeploy').spec.groups.flatMap((g: { rules: unknown[] }) => g.rules) as { alert: string; expr: string }[];

  it('cover AdminReview, a growing backlog, no error-handler leader and the failure rate', () => {
    expect(rules.map((r) => r.alert)).toEqual(
      expect.arrayContaining(['SimdeployAdminReview', 'SimdeployCommandBacklogGrowing', 'SimdeployNoErrorHandlerLeader', 'SimdeployLaunchFailureRate']),
    );
  });

  it('use only metrics the services expose', () => {
    const exposed = new Set(metricsRegistry.getMetricsAsArray().map((m) => m.name));
    for (const rule of rules) {
      const names = rule.expr.match(/simdeploy_[a-z_]+/g) ?? [];
      expect(names.length).toBeGreaterThan(0);
      expect(names.filter((n) => !exposed.has(n))).toEqual([]);
    }
  });
});

describe('the operator docs', () => {
  it('docs/production.md lists every metric', () => {
    const doc = require('node:fs').readFileSync(join(ROOT, 'docs/production.md'), 'utf8') as string;
    const missing = metricsRegistry
      .getMetricsAsArray()
      .map((m) => m.name)
      .filter((name) => !doc.includes(`\`${name}\``));
    expect(missing).toEqual([]);
  });
});

// Keeps kustomization() honest about files it would otherwise skip.
it('every file k8s/kustomization.yaml names exists and parses', () => {
  expect(kustomization(K8S).length).toBeGreaterThan(10);
});
