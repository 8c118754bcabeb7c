import { AsyncLocalStorage } from 'node:async_hooks';
import type { TraceContext } from './trace-context';

/**
 * What the work in progress is about. Every log line written while it runs carries these
 * fields, and every command sent or event appended carries the trace on.
 */
export interface WorkContext {
  deploymentId?: string;
  commandKind?: string;
  correlationId?: string;
  /** The message that caused this work: a command's message id, say. */
  causationId?: string;
  trace?: TraceContext;
}

const storage = new AsyncLocalStorage<WorkContext>();

/** The context of the work running now; empty outside any. */
export const currentContext = (): WorkContext => storage.getStore() ?? {};

/** Runs `work` with the current context extended by `fields` (undefined fields leave what is there). */
export function withContext<T>(fields: WorkContext, work: () => T): T {
  const merged: WorkContext = { ...currentContext() };
  for (const [key, value] of Object.entries(fields) as [keyof WorkContext, WorkContext[keyof WorkContext]][]) {
    if (value !== undefined) (merged as Record<string, unknown>)[key] = value;
  }
  return storage.run(merged, work);
}

/** The context's fields a log line shows, flattened. */
export function logFields(context: WorkContext = currentContext()): Record<string, string> {
  const fields: Record<string, string> = {};
  if (context.deploymentId) fields['deploymentId'] = context.deploymentId;
  if (context.commandKind) fields['commandKind'] = context.commandKind;
  if (context.correlationId) fields['correlationId'] = context.correlationId;
  if (context.causationId) fields['causationId'] = context.causationId;
  if (context.trace) {
    fields['traceId'] = context.trace.traceId;
    fields['spanId'] = context.trace.spanId;
  }
  return fields;
}
