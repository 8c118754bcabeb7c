/**
 * The launch form, built from the gateway's own OpenAPI document (/docs-json): the request
 * body schema of POST /simulations decides which fields there are, their kinds, which are
 * required, their hints and examples. A field the API adds appears without a dashboard change.
 */

interface SchemaObject {
  $ref?: string;
  type?: string;
  enum?: unknown[];
  properties?: Record<string, SchemaObject>;
  required?: string[];
  items?: SchemaObject;
  additionalProperties?: boolean | SchemaObject;
  description?: string;
  example?: unknown;
  minimum?: number;
  maximum?: number;
}

export interface OpenApiDocument {
  paths: Record<string, Record<string, { requestBody?: { content?: Record<string, { schema?: SchemaObject }> } }>>;
  components?: { schemas?: Record<string, SchemaObject> };
}

interface FieldBase {
  name: string;
  label: string;
  required: boolean;
  description?: string;
}

export type Field =
  | (FieldBase & { kind: 'text'; example?: string })
  | (FieldBase & { kind: 'number'; integer: boolean; minimum?: number; maximum?: number; example?: number })
  | (FieldBase & { kind: 'choice'; options: string[]; example?: string })
  | (FieldBase & { kind: 'list'; item: Field[]; example?: Record<string, string>[] })
  | (FieldBase & { kind: 'map'; example?: Record<string, string> });

/** What the user typed, kept as text: the gateway judges it and says what is wrong. */
export type FieldValue = string | ListValue | MapValue;
export type ListValue = Record<string, string>[];
export type MapValue = { key: string; value: string }[];
export type FormValues = Record<string, FieldValue>;

const humanise = (name: string): string => {
  const words = name.replace(/([a-z0-9])([A-Z])/g, '$1 $2').toLowerCase();
  return words.charAt(0).toUpperCase() + words.slice(1);
};

function resolve(doc: OpenApiDocument, schema: SchemaObject | undefined): SchemaObject {
  let current = schema ?? {};
  for (let depth = 0; current.$ref && depth < 10; depth++) {
    const name = current.$ref.split('/').pop() ?? '';
    current = doc.components?.schemas?.[name] ?? {};
  }
  return current;
}

function fieldsOf(doc: OpenApiDocument, schema: SchemaObject): Field[] {
  const required = new Set(schema.required ?? []);
  return Object.entries(schema.properties ?? {}).map(([name, raw]) => {
    const property = resolve(doc, raw);
    const base = { name, label: humanise(name), required: required.has(name), description: property.description };
    if (property.enum) return { ...base, kind: 'choice', options: property.enum.map(String), example: property.example as string | undefined };
    if (property.type === 'integer' || property.type === 'number') {
      return {
        ...base,
        kind: 'number',
        integer: property.type === 'integer',
        minimum: property.minimum,
        maximum: property.maximum,
        example: typeof property.example === 'number' ? property.example : undefined,
      };
    }
    if (property.type === 'array') {
      const item = resolve(doc, property.items);
      return { ...base, kind: 'list', item: fieldsOf(doc, item), example: property.example as Record<string, string>[] | undefined };
    }
    if (property.type === 'object') return { ...base, kind: 'map', example: property.example as Record<string, string> | undefined };
    return { ...base, kind: 'text', example: property.example === undefined ? undefined : String(property.example) };
  });
}

/** The fields of an operation's JSON body, e.g. `launchFields(doc, '/simulations', 'post')`. */
export function bodyFields(doc: OpenApiDocument, path: string, method: string): Field[] {
  const schema = doc.paths[path]?.[method]?.requestBody?.content?.['application/json']?.schema;
  if (!schema) throw new Error(`the API describes no JSON body for ${method.toUpperCase()} ${path}`);
  return fieldsOf(doc, resolve(doc, schema));
}

export function emptyValues(fields: readonly Field[]): FormValues {
  return Object.fromEntries(fields.map((f) => [f.name, f.kind === 'list' || f.kind === 'map' ? [] : '']));
}

/** A list item's fields, empty. */
export const emptyItem = (item: readonly Field[]): Record<string, string> => Object.fromEntries(item.map((f) => [f.name, '']));

/** The schema's examples as values, for a first launch. */
export function exampleValues(fields: readonly Field[]): FormValues {
  return Object.fromEntries(
    fields.map((f): [string, FieldValue] => {
      switch (f.kind) {
        case 'list':
          return [f.name, f.example ?? [Object.fromEntries(f.item.map((i) => [i.name, i.example === undefined ? '' : String(i.example)]))]];
        case 'map':
          return [f.name, Object.entries(f.example ?? {}).map(([key, value]) => ({ key, value: String(value) }))];
        default:
          return [f.name, f.example === undefined || !f.required ? '' : String(f.example)];
      }
    }),
  );
}

/** The request body: blank optional fields left out, numbers sent as numbers when they are numbers. */
export function toBody(fields: readonly Field[], values: FormValues): Record<string, unknown> {
  const body: Record<string, unknown> = {};
  for (const field of fields) {
    const value = values[field.name];
    if (field.kind === 'list') {
      body[field.name] = ((value as ListValue | undefined) ?? []).map((item) => toBody(field.item, item));
    } else if (field.kind === 'map') {
      const rows = ((value as MapValue | undefined) ?? []).filter((row) => row.key !== '' || row.value !== '');
      if (rows.length > 0 || field.required) body[field.name] = Object.fromEntries(rows.map((row) => [row.key, row.value]));
    } else {
      const text = typeof value === 'string' ? value : '';
      if (text === '' && !field.required) continue;
      body[field.name] = field.kind === 'number' && /^-?\d+(\.\d+)?$/.test(text.trim()) ? Number(text) : text;
    }
  }
  return body;
}

/** Every path a validation message may name: `robots`, `robots.0.name`, ... */
export function fieldPaths(fields: readonly Field[], values: FormValues): string[] {
  return fields.flatMap((field) => {
    if (field.kind !== 'list') return [field.name];
    const items = (values[field.name] as ListValue | undefined) ?? [];
    return [field.name, ...items.flatMap((_, index) => field.item.map((i) => `${field.name}.${index}.${i.name}`))];
  });
}
