import { FormEvent, useEffect, useId, useState } from 'react';
import { ApiError } from '../lib/api';
import { FieldErrors, fieldErrors } from '../lib/field-errors';
import {
  Field,
  FormValues,
  ListValue,
  MapValue,
  OpenApiDocument,
  bodyFields,
  emptyItem,
  emptyValues,
  exampleValues,
  fieldPaths,
  toBody,
} from '../lib/launch-schema';
import { navigate } from '../lib/router';
import type { SimulationView } from '../lib/types';
import { usePageTitle } from './App';
import { useSignedIn } from './session-context';

const NO_ERRORS: FieldErrors = { byField: new Map(), form: [] };

/** The input id and the id of its messages, for a field path like `robots.0.name`. */
const idOf = (path: string) => `launch-${path.replace(/\./g, '-')}`;

function Messages({ path, errors, hint }: { path: string; errors: FieldErrors; hint?: string }) {
  const messages = errors.byField.get(path) ?? [];
  return (
    <>
      {hint && (
        <p id={`${idOf(path)}-hint`} className="hint">
          {hint}
        </p>
      )}
      {messages.length > 0 && (
        <p id={`${idOf(path)}-error`} className="field-error" data-field-error={path}>
          {messages.join('; ')}
        </p>
      )}
    </>
  );
}

const describedBy = (path: string, errors: FieldErrors, hint?: string) =>
  [hint ? `${idOf(path)}-hint` : null, errors.byField.has(path) ? `${idOf(path)}-error` : null].filter(Boolean).join(' ') || undefined;

function ScalarInput({ field, path, value, onChange, errors }: { field: Field; path: string; value: string; onChange(v: string): void; errors: FieldErrors }) {
  const id = idOf(path);
  const hint = field.description;
  const common = {
    id,
    name: path,
    'aria-describedby': describedBy(path, errors, hint),
    'aria-invalid': errors.byField.has(path) ? true : undefined,
    'aria-required': field.required ? true : undefined,
  };
  return (
    <div className="field">
      <label htmlFor={id}>
        {field.label}
        {field.required ? '' : <span className="muted"> (optional)</span>}
      </label>
      {field.kind === 'choice' ? (
        <select {...common} value={value} onChange={(e) => onChange(e.target.value)}>
          <option value="">{field.required ? 'Choose…' : 'Default'}</option>
          {field.options.map((o) => (
            <option key={o} value={o}>
              {o}
            </option>
          ))}
        </select>
      ) : (
        <input
          {...common}
          type="text"
          inputMode={field.kind === 'number' ? 'numeric' : undefined}
          value={value}
          placeholder={field.kind === 'text' || field.kind === 'number' ? (field.example === undefined ? undefined : `e.g. ${field.example}`) : undefined}
          onChange={(e) => onChange(e.target.value)}
          autoComplete="off"
          spellCheck={false}
        />
      )}
      <Messages path={path} errors={errors} hint={hint} />
    </div>
  );
}

function ListInput({ field, value, onChange, errors }: { field: Extract<Field, { kind: 'list' }>; value: ListValue; onChange(v: ListValue): void; errors: FieldErrors }) {
  const singular = field.label.replace(/s$/, '').toLowerCase();
  return (
    <fieldset className="list" aria-describedby={describedBy(field.name, errors)}>
      <legend>{field.label}</legend>
      {value.length === 0 && <p className="hint">None yet.</p>}
      {value.map((item, index) => (
        <div className="list-item" key={index} role="group" aria-label={`${field.label.replace(/s$/, '')} ${index + 1}`}>
          {field.item.map((sub) => (
            <ScalarInput
              key={sub.name}
              field={{ ...sub, label: `${sub.label} of ${singular} ${index + 1}` }}
              path={`${field.name}.${index}.${sub.name}`}
              value={item[sub.name] ?? ''}
              errors={errors}
              onChange={(v) => onChange(value.map((it, i) => (i === index ? { ...it, [sub.name]: v } : it)))}
            />
          ))}
          <button type="button" className="secondary" onClick={() => onChange(value.filter((_, i) => i !== index))}>
            Remove {singular} {index + 1}
          </button>
        </div>
      ))}
      <button type="button" className="secondary" onClick={() => onChange([...value, emptyItem(field.item)])}>
        Add a {singular}
      </button>
      <Messages path={field.name} errors={errors} />
    </fieldset>
  );
}

function MapInput({ field, value, onChange, errors }: { field: Extract<Field, { kind: 'map' }>; value: MapValue; onChange(v: MapValue): void; errors: FieldErrors }) {
  const set = (index: number, part: 'key' | 'value', text: string) => onChange(value.map((row, i) => (i === index ? { ...row, [part]: text } : row)));
  return (
    <fieldset className="list" aria-describedby={describedBy(field.name, errors, field.description)}>
      <legend>
        {field.label}
        {field.required ? '' : <span className="muted"> (optional)</span>}
      </legend>
      {value.map((row, index) => (
        <div className="pair" key={index}>
          <div className="field">
            <label htmlFor={`${idOf(field.name)}-${index}-key`}>Key {index + 1}</label>
            <input id={`${idOf(field.name)}-${index}-key`} value={row.key} onChange={(e) => set(index, 'key', e.target.value)} autoComplete="off" />
          </div>
          <div className="field">
            <label htmlFor={`${idOf(field.name)}-${index}-value`}>Value {index + 1}</label>
            <input id={`${idOf(field.name)}-${index}-value`} value={row.value} onChange={(e) => set(index, 'value', e.target.value)} autoComplete="off" />
          </div>
          <button type="button" className="secondary" onClick={() => onChange(value.filter((_, i) => i !== index))}>
            Remove {row.key || `pair ${index + 1}`}
          </button>
        </div>
      ))}
      <button type="button" className="secondary" onClick={() => onChange([...value, { key: '', value: '' }])}>
        Add a {field.label.toLowerCase().replace(/s$/, '')}
      </button>
      <Messages path={field.name} errors={errors} hint={field.description} />
    </fieldset>
  );
}

export function LaunchForm() {
  usePageTitle('Launch a simulation');
  const { api } = useSignedIn();
  const [fields, setFields] = useState<Field[] | null>(null);
  const [values, setValues] = useState<FormValues>({});
  const [errors, setErrors] = useState<FieldErrors>(NO_ERRORS);
  const [problem, setProblem] = useState<string | null>(null);
  const [sending, setSending] = useState(false);
  const summaryId = useId();

  useEffect(() => {
    let cancelled = false;
    // The API's own description of what a launch takes.
    void fetch('/docs-json', { headers: { accept: 'application/json' } })
      .then((r) => (r.ok ? (r.json() as Promise<OpenApiDocument>) : Promise.reject(new Error(`/docs-json answered ${r.status}`))))
      .then((doc) => {
        if (cancelled) return;
        const launch = bodyFields(doc, '/simulations', 'post');
        setFields(launch);
        setValues(emptyValues(launch));
      })
      .catch((error: unknown) => !cancelled && setProblem(`The launch form cannot be built: ${error instanceof Error ? error.message : String(error)}`));
    return () => {
      cancelled = true;
    };
  }, []);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    if (!fields) return;
    setSending(true);
    try {
      const created = await api<SimulationView>('POST', '/simulations', toBody(fields, values));
      navigate(`/simulation/${created.id}`);
    } catch (error) {
      if (error instanceof ApiError && error.status === 400) {
        const found = fieldErrors(error.messages, fieldPaths(fields, values));
        setErrors(found);
        setProblem(null);
        // The first field the gateway named, for the keyboard and screen readers.
        const first = [...found.byField.keys()][0];
        if (first) document.getElementById(idOf(first))?.focus();
        else document.getElementById(summaryId)?.focus();
      } else {
        setErrors(NO_ERRORS);
        setProblem(error instanceof ApiError ? error.message : 'The gateway cannot be reached.');
      }
    } finally {
      setSending(false);
    }
  };

  return (
    <section aria-labelledby="launch-title">
      <h1 id="launch-title" tabIndex={-1}>
        Launch a simulation
      </h1>
      {problem && (
        <p className="notice" role="alert">
          {problem}
        </p>
      )}
      {fields && (
        <form onSubmit={submit} noValidate className="launch">
          {(errors.form.length > 0 || errors.byField.size > 0) && (
            <div id={summaryId} className="notice" role="alert" tabIndex={-1}>
              The gateway refused this launch{errors.byField.size > 0 ? '; see the fields marked below' : ''}.
              {errors.form.length > 0 && (
                <ul>
                  {errors.form.map((m) => (
                    <li key={m}>{m}</li>
                  ))}
                </ul>
              )}
            </div>
          )}
          <p>
            <button type="button" className="secondary" onClick={() => setValues(exampleValues(fields))}>
              Fill in the API's examples
            </button>
          </p>
          {fields.map((field) => {
            if (field.kind === 'list') {
              return (
                <ListInput key={field.name} field={field} value={(values[field.name] as ListValue) ?? []} errors={errors} onChange={(v) => setValues({ ...values, [field.name]: v })} />
              );
            }
            if (field.kind === 'map') {
              return (
                <MapInput key={field.name} field={field} value={(values[field.name] as MapValue) ?? []} errors={errors} onChange={(v) => setValues({ ...values, [field.name]: v })} />
              );
            }
            return (
              <ScalarInput
                key={field.name}
                field={field}
                path={field.name}
                value={(values[field.name] as string) ?? ''}
                errors={errors}
                onChange={(v) => setValues({ ...values, [field.name]: v })}
              />
            );
          })}
          <button type="submit" disabled={sending}>
            {sending ? 'Launching…' : 'Launch'}
          </button>
        </form>
      )}
    </section>
  );
}
