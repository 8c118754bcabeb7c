/**
 * The gateway names the field at the start of each validation message, with the path of a
 * nested one ("robots.0.name must be a lower-case DNS label", "property foo should not exist").
 * Each message goes next to its field; what names no field of the form is shown for the form.
 */
export interface FieldErrors {
  byField: Map<string, string[]>;
  form: string[];
}

export function fieldErrors(messages: readonly string[], fieldPaths: readonly string[]): FieldErrors {
  const known = new Set(fieldPaths);
  const byField = new Map<string, string[]>();
  const form: string[] = [];
  for (const message of messages) {
    const path = pathOf(message, known);
    if (path === null) {
      form.push(message);
    } else {
      byField.set(path, [...(byField.get(path) ?? []), message]);
    }
  }
  return { byField, form };
}

function pathOf(message: string, known: ReadonlySet<string>): string | null {
  const unknownProperty = /^property (\S+) should not exist$/.exec(message);
  const first = unknownProperty ? unknownProperty[1] : message.split(' ')[0];
  // A message about a nested item's field, or about the list or the item itself.
  for (let path = first; path !== ''; path = path.includes('.') ? path.slice(0, path.lastIndexOf('.')) : '') {
    if (known.has(path)) return path;
  }
  return null;
}
