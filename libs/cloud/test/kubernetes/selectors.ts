/**
 * Label and field selectors as an API server evaluates them (the string forms of
 * k8s.io/apimachinery/pkg/labels and pkg/fields), so the double answers a list with what a
 * real server would, and refuses what a real server refuses.
 */

export class SelectorError extends Error {}

type Requirement =
  | { op: 'exists' | 'notexists'; key: string }
  | { op: 'in' | 'notin'; key: string; values: string[] }
  | { op: '=' | '!='; key: string; values: [string] };

/** Splits on commas outside parentheses: `a in (x,y),b=c` has two requirements. */
function splitTopLevel(text: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let current = '';
  for (const ch of text) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ',' && depth === 0) {
      parts.push(current);
      current = '';
    } else {
      current += ch;
    }
  }
  parts.push(current);
  return parts.map((p) => p.trim());
}

const LABEL_KEY = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9])?$/;

function parseRequirement(text: string): Requirement {
  const fail = (): never => {
    throw new SelectorError(`unable to parse requirement: ${text}`);
  };
  const setMatch = /^(\S+)\s+(in|notin)\s+\(([^()]*)\)$/.exec(text);
  if (setMatch) {
    const [, key, op, list] = setMatch;
    const values = list.split(',').map((v) => v.trim());
    if (!LABEL_KEY.test(key) || values.some((v) => !LABEL_VALUE.test(v))) fail();
    return { op: op as 'in' | 'notin', key, values };
  }
  const eqMatch = /^([^=!\s]+)\s*(==|=|!=)\s*(\S*)$/.exec(text);
  if (eqMatch) {
    const [, key, op, value] = eqMatch;
    if (!LABEL_KEY.test(key) || !LABEL_VALUE.test(value)) fail();
    return { op: op === '!=' ? '!=' : '=', key, values: [value] };
  }
  const existsMatch = /^(!?)(\S+)$/.exec(text);
  if (existsMatch && LABEL_KEY.test(existsMatch[2])) {
    return { op: existsMatch[1] ? 'notexists' : 'exists', key: existsMatch[2] };
  }
  return fail();
}

export type Matcher = (labels: Record<string, string> | undefined) => boolean;

function matcherOf(requirements: Requirement[]): Matcher {
  return (labels = {}) =>
    requirements.every((r) => {
      const has = Object.prototype.hasOwnProperty.call(labels, r.key);
      const value = labels[r.key];
      switch (r.op) {
        case 'exists':
          return has;
        case 'notexists':
          return !has;
        case 'in':
        case '=':
          return has && r.values.includes(value);
        case 'notin':
        case '!=':
          return !has || !r.values.includes(value);
      }
    });
}

/** A `labelSelector` query parameter; an empty one selects everything. */
export function parseLabelSelector(selector: string | undefined): Matcher {
  if (!selector?.trim()) return () => true;
  return matcherOf(splitTopLevel(selector).map(parseRequirement));
}

/** A `LabelSelector` object (matchLabels and matchExpressions), as a PodDisruptionBudget has. */
export function labelSelectorObject(selector: {
  matchLabels?: Record<string, string>;
  matchExpressions?: { key: string; operator: string; values?: string[] }[];
}): Matcher {
  const requirements: Requirement[] = Object.entries(selector.matchLabels ?? {}).map(([key, value]) => ({
    op: '=',
    key,
    values: [value],
  }));
  for (const e of selector.matchExpressions ?? []) {
    const op = { In: 'in', NotIn: 'notin', Exists: 'exists', DoesNotExist: 'notexists' }[e.operator];
    if (op === 'exists' || op === 'notexists') requirements.push({ op, key: e.key });
    else if (op === 'in' || op === 'notin') requirements.push({ op, key: e.key, values: e.values ?? [] });
    else throw new SelectorError(`"${e.operator}" is not a valid label selector operator`);
  }
  return matcherOf(requirements);
}

/** The field paths each kind can be selected by (pkg/registry/.../strategy.go ToSelectableFields). */
const SELECTABLE_FIELDS: Record<string, readonly string[]> = {
  pods: [
    'metadata.name',
    'metadata.namespace',
    'spec.nodeName',
    'spec.restartPolicy',
    'spec.schedulerName',
    'spec.serviceAccountName',
    'spec.hostNetwork',
    'status.phase',
    'status.podIP',
    'status.nominatedNodeName',
  ],
  nodes: ['metadata.name', 'spec.unschedulable'],
};

const fieldValue = (object: unknown, path: string): string => {
  let at: unknown = object;
  for (const part of path.split('.')) at = (at as Record<string, unknown> | undefined)?.[part];
  return at === undefined || at === null ? '' : String(at);
};

export type ObjectMatcher = (object: unknown) => boolean;

/** A `fieldSelector` query parameter: only `=`, `==` and `!=` over the kind's selectable fields. */
export function parseFieldSelector(selector: string | undefined, resource: string): ObjectMatcher {
  if (!selector?.trim()) return () => true;
  const allowed = SELECTABLE_FIELDS[resource] ?? ['metadata.name', 'metadata.namespace'];
  const terms = selector.split(',').map((term) => {
    const match = /^([^=!]+)(==|=|!=)(.*)$/.exec(term.trim());
    if (!match) throw new SelectorError(`invalid selector: '${selector}'; can't understand '${term}'`);
    const [, field, op, value] = match;
    if (!allowed.includes(field)) throw new SelectorError(`field label not supported: ${field}`);
    return { field, negate: op === '!=', value };
  });
  return (object) => terms.every((t) => (fieldValue(object, t.field) === t.value) !== t.negate);
}
