import { readFileSync, readdirSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { parseAllDocuments } from 'yaml';

export const ROOT = resolve(__dirname, '../..');
export const K8S = join(ROOT, 'k8s');

export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  spec?: any;
  data?: Record<string, string>;
  [key: string]: unknown;
}

export interface Manifest {
  file: string;
  object: K8sObject;
}

// Duplicate keys are errors, and compose's `<<:` merge keys are resolved. (uniqueKeys is yaml 2's name; 1 refuses duplicates anyway.)
const YAML_OPTIONS = { uniqueKeys: true, merge: true } as Parameters<typeof parseAllDocuments>[1];

export function parseYaml(file: string): unknown[] {
  return parseAllDocuments(readFileSync(file, 'utf8'), YAML_OPTIONS)
    .map((doc) => {
      if (doc.errors.length > 0) throw new Error(`${relative(ROOT, file)}: ${doc.errors.map((e) => e.message).join('; ')}`);
      // yaml comes with nx: version 1 (toJSON) or 2 (toJS), whichever is hoisted.
      const parsed = doc as unknown as { toJS?: () => unknown; toJSON: () => unknown };
      return parsed.toJS ? parsed.toJS() : parsed.toJSON();
    })
    .filter((value) => value !== null && value !== undefined);
}

/** The resources a kustomization lists, read as the files it names. */
export function kustomization(dir: string): Manifest[] {
  const [k] = parseYaml(join(dir, 'kustomization.yaml')) as [{ resources: string[] }];
  return k.resources.flatMap((file) => parseYaml(join(dir, file)).map((object) => ({ file: relative(K8S, join(dir, file)), object: object as K8sObject })));
}

export const manifests = (): Manifest[] => [...kustomization(K8S), ...kustomization(join(K8S, 'monitoring'))];

/** Every *.yaml of a directory that is not a kustomization: what a kustomization must list. */
export const yamlFiles = (dir: string): string[] =>
  readdirSync(dir)
    .filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml')
    .sort();

export function find(objects: Manifest[], kind: string, name: string): K8sObject {
  const found = objects.find((m) => m.object.kind === kind && m.object.metadata.name === name);
  if (!found) throw new Error(`no ${kind} ${name} in k8s/`);
  return found.object;
}
