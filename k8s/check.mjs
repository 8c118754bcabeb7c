#!/usr/bin/env node
// Static checks of the production packaging, without a cluster or a Docker engine:
//   node k8s/check.mjs
// - every k8s/*.yaml parses (no duplicate keys), every object has apiVersion, kind and
//   metadata.name, namespaced objects name their namespace, and kustomization.yaml lists
//   exactly the manifest files;
// - every Deployment's command runs a built service, and the ServiceAccount, ConfigMap and
//   namespaces it refers to are defined here;
// - docker-compose.yml parses, and each service's command names a built service.
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
// yaml comes with nx (a dev dependency); this script runs in a dev checkout, not in the image.
import YAML from 'yaml';

const { parseAllDocuments } = YAML;

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const k8sDir = path.join(root, 'k8s');
const problems = [];
const problem = (where, what) => problems.push(`${where}: ${what}`);
const SERVICES = ['gateway', 'launcher', 'terminator', 'error-handler'];
const CLUSTER_SCOPED = new Set(['Namespace', 'ClusterRole', 'ClusterRoleBinding']);

function parseFile(file) {
  const docs = parseAllDocuments(readFileSync(file, 'utf8'), { uniqueKeys: true });
  const objects = [];
  for (const doc of docs) {
    for (const error of [...doc.errors, ...doc.warnings]) problem(path.relative(root, file), error.message);
    const value = doc.toJS ? doc.toJS() : doc.toJSON(); // yaml 2 or 1, whichever is hoisted
    if (value !== null && value !== undefined) objects.push(value);
  }
  return objects;
}

function checkServiceCommand(where, command) {
  const main = Array.isArray(command) ? command.find((arg) => /^dist\/apps\/.+\/src\/main\.js$/.test(arg)) : undefined;
  const service = main?.split('/')[2];
  if (!SERVICES.includes(service)) problem(where, `command ${JSON.stringify(command)} does not run one of ${SERVICES.join(', ')}`);
  else if (!existsSync(path.join(root, 'apps', service, 'src', 'main.ts'))) problem(where, `apps/${service}/src/main.ts is missing`);
}

const manifests = readdirSync(k8sDir).filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml').sort();
const objects = manifests.flatMap((file) => parseFile(path.join(k8sDir, file)).map((object) => ({ file, object })));
const defined = new Set(objects.map(({ object }) => `${object.kind}/${object.metadata?.namespace ?? ''}/${object.metadata?.name}`));
const has = (kind, namespace, name) => defined.has(`${kind}/${namespace ?? ''}/${name}`);

for (const { file, object } of objects) {
  const where = `k8s/${file} ${object.kind ?? '?'}/${object.metadata?.name ?? '?'}`;
  for (const field of ['apiVersion', 'kind']) if (typeof object[field] !== 'string') problem(where, `no ${field}`);
  if (typeof object.metadata?.name !== 'string') problem(where, 'no metadata.name');
  const namespace = object.metadata?.namespace;
  if (!CLUSTER_SCOPED.has(object.kind)) {
    if (!namespace) problem(where, 'namespaced object without metadata.namespace');
    else if (!has('Namespace', undefined, namespace)) problem(where, `namespace ${namespace} is not defined in k8s/`);
  }
  if (object.kind === 'Deployment') {
    const pod = object.spec?.template?.spec ?? {};
    const selector = object.spec?.selector?.matchLabels ?? {};
    const labels = object.spec?.template?.metadata?.labels ?? {};
    if (!Object.entries(selector).every(([k, v]) => labels[k] === v)) problem(where, 'selector does not match the pod labels');
    if (!has('ServiceAccount', namespace, pod.serviceAccountName)) problem(where, `ServiceAccount ${pod.serviceAccountName} is not defined`);
    for (const container of pod.containers ?? []) {
      checkServiceCommand(where, container.args);
      if (container.command) problem(where, 'sets command, which would replace the image entrypoint (tini); use args');
      if (!container.resources?.requests || !container.resources?.limits) problem(where, 'no resource requests and limits');
      for (const source of container.envFrom ?? []) {
        const name = source.configMapRef?.name;
        if (name && !has('ConfigMap', namespace, name)) problem(where, `ConfigMap ${name} is not defined`);
      }
    }
  }
  for (const subject of object.subjects ?? []) {
    if (subject.kind === 'ServiceAccount' && !has('ServiceAccount', subject.namespace, subject.name)) problem(where, `subject ${subject.name} is not defined`);
  }
}

const [kustomization] = parseFile(path.join(k8sDir, 'kustomization.yaml'));
const listed = [...(kustomization?.resources ?? [])].sort();
if (JSON.stringify(listed) !== JSON.stringify(manifests)) problem('k8s/kustomization.yaml', `resources ${listed} differ from the manifests ${manifests}`);

const [compose] = parseFile(path.join(root, 'docker-compose.yml'));
for (const service of SERVICES) {
  const definition = compose?.services?.[service];
  if (!definition) problem('docker-compose.yml', `no service ${service}`);
  else checkServiceCommand(`docker-compose.yml ${service}`, definition.command);
}

if (problems.length > 0) {
  process.stderr.write(`${problems.join('\n')}\n`);
  process.exit(1);
}
process.stdout.write(`ok: ${objects.length} objects in ${manifests.length} manifests, kustomization, docker-compose.yml\n`);
