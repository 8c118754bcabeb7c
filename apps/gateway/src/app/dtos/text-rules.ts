import { ValidationArguments, registerDecorator } from 'class-validator';

/**
 * Rules for what users type into a simulation request. Strings end up in file paths, process
 * environments, Kubernetes objects and logs: a NUL or a newline there fails deep in a runtime
 * with an internal message, so it is refused here, naming the field.
 */

// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
// eslint-disable-next-line no-control-regex
const CONTROL_BUT_LINES = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/;

export const hasControlCharacters = (value: string, allowLines = false): boolean => (allowLines ? CONTROL_BUT_LINES : CONTROL).test(value);

/** Refuses strings (or arrays of them) with control characters: NUL, newlines, escapes (newlines and tabs allowed in prose). */
export function NoControlCharacters(options: { allowLines?: boolean } = {}) {
  return (target: object, propertyName: string) =>
    registerDecorator({
      name: 'noControlCharacters',
      target: target.constructor,
      propertyName,
      validator: {
        validate: (value: unknown) =>
          (Array.isArray(value) ? value : [value]).every((v) => typeof v !== 'string' || !hasControlCharacters(v, options.allowLines)),
        defaultMessage: (args?: ValidationArguments) =>
          `${args?.property ?? 'value'} must not contain control characters (NUL, escapes${options.allowLines ? '' : ', newlines'})`,
      },
    });
}

// The OCI distribution reference grammar (distribution/reference):
//   reference := name [ ":" tag ] [ "@" digest ];  name := [domain "/"] path-component ["/" path-component]*
const ALPHANUMERIC = '[a-z0-9]+';
const SEPARATOR = '(?:[._]|__|[-]+)';
const PATH_COMPONENT = `${ALPHANUMERIC}(?:${SEPARATOR}${ALPHANUMERIC})*`;
const DOMAIN_COMPONENT = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const DOMAIN = `(?:${DOMAIN_COMPONENT}(?:\\.${DOMAIN_COMPONENT})*|\\[[0-9A-Fa-f:]+\\])(?::[0-9]+)?`;
const TAG = '[\\w][\\w.-]{0,127}';
const DIGEST = '[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}';
const REFERENCE = new RegExp(`^(?:(${DOMAIN})/)?(${PATH_COMPONENT}(?:/${PATH_COMPONENT})*)(?::(${TAG}))?(?:@(${DIGEST}))?$`);
const NAME_MAX = 255;

/**
 * Whether `value` is an image reference as registries parse it: `gazebo/gz-sim:harmonic`,
 * `ghcr.io/acme/robot:1.2`, `localhost:5000/sim@sha256:<hex>`. A first component counts as a
 * registry host only when it looks like one (a dot, a port, or localhost), as the grammar says.
 */
export function isImageReference(value: string): boolean {
  if (value.length === 0 || value.length > 512) return false;
  const match = REFERENCE.exec(value);
  if (!match) return false;
  const [, domain, path] = match;
  const firstSlash = value.indexOf('/');
  // Without a host-looking first part, the whole name is a path: upper case is not allowed there.
  if (domain !== undefined && !(domain.includes('.') || domain.includes(':') || domain === 'localhost' || domain.startsWith('['))) {
    const first = value.slice(0, firstSlash);
    if (!new RegExp(`^${PATH_COMPONENT}$`).test(first)) return false;
  }
  const nameLength = (domain ? domain.length + 1 : 0) + (path?.length ?? 0);
  return nameLength <= NAME_MAX;
}

export function IsImageReference() {
  return (target: object, propertyName: string) =>
    registerDecorator({
      name: 'isImageReference',
      target: target.constructor,
      propertyName,
      validator: {
        validate: (value: unknown) => typeof value === 'string' && isImageReference(value),
        defaultMessage: (args?: ValidationArguments) =>
          `${args?.property ?? 'image'} must be a container image reference like registry.example.com/team/image:tag or name@sha256:<digest>`,
      },
    });
}
