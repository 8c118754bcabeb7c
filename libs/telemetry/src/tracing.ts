import type { Tracer } from '@opentelemetry/api';
import { currentContext, withContext } from './context';
import { childOf, formatTraceparent, type TraceContext } from './trace-context';

export type SpanKind = 'server' | 'client' | 'producer' | 'consumer' | 'internal';
export type SpanAttributes = Record<string, string | number | boolean>;

export interface Span {
  readonly context: TraceContext;
  readonly traceparent: string;
  setAttribute(key: string, value: string | number | boolean): void;
  /** Ends the span; an error marks it failed. Idempotent. */
  end(error?: unknown): void;
}

export interface SpanOptions {
  /** The span's parent; the current work's trace when omitted, a new trace when there is none. */
  parent?: TraceContext | null;
  kind?: SpanKind;
  attributes?: SpanAttributes;
}

/** Without an exporter a span is only a new span id in the trace: what the logs and the next hop need. */
class LocalSpan implements Span {
  readonly traceparent: string;
  constructor(readonly context: TraceContext) {
    this.traceparent = formatTraceparent(context);
  }
  setAttribute(): void {
    // nothing records it
  }
  end(): void {
    // nothing to export
  }
}

interface Exporting {
  tracer: Tracer;
  kinds: Record<SpanKind, number>;
  shutdown(): Promise<void>;
  api: typeof import('@opentelemetry/api');
}

let exporting: Exporting | undefined;

const describe = (error: unknown): string => (error instanceof Error ? error.message : String(error));

function startExportedSpan(name: string, parent: TraceContext | null, options: SpanOptions, otel: Exporting): Span {
  const { api } = otel;
  const parentContext = parent
    ? api.trace.setSpanContext(api.ROOT_CONTEXT, { traceId: parent.traceId, spanId: parent.spanId, traceFlags: parent.flags, isRemote: true })
    : api.ROOT_CONTEXT;
  const span = otel.tracer.startSpan(name, { kind: otel.kinds[options.kind ?? 'internal'], ...(options.attributes ? { attributes: options.attributes } : {}) }, parentContext);
  const { traceId, spanId, traceFlags } = span.spanContext();
  const context: TraceContext = { traceId, spanId, flags: traceFlags };
  let ended = false;
  return {
    context,
    traceparent: formatTraceparent(context),
    setAttribute: (key, value) => span.setAttribute(key, value),
    end: (error?: unknown) => {
      if (ended) return;
      ended = true;
      if (error !== undefined) span.setStatus({ code: api.SpanStatusCode.ERROR, message: describe(error) });
      span.end();
    },
  };
}

/** Starts a span: exported over OTLP when tracing export is on, otherwise only a context to pass on. */
export function startSpan(name: string, options: SpanOptions = {}): Span {
  const parent = options.parent !== undefined ? options.parent : (currentContext().trace ?? null);
  return exporting ? startExportedSpan(name, parent, options, exporting) : new LocalSpan(childOf(parent));
}

/** Runs `work` in a new span, as the current trace for everything it logs, sends and appends. */
export async function inSpan<T>(name: string, options: SpanOptions, work: (span: Span) => Promise<T>): Promise<T> {
  const span = startSpan(name, options);
  try {
    const result = await withContext({ trace: span.context }, () => work(span));
    span.end();
    return result;
  } catch (error) {
    span.end(error);
    throw error;
  }
}

export interface OtlpTracingOptions {
  /** OTEL_EXPORTER_OTLP_ENDPOINT: the collector's base URL; spans go to `<endpoint>/v1/traces` (OTLP/HTTP, JSON). */
  endpoint: string;
  serviceName: string;
}

/**
 * Exports spans to an OpenTelemetry collector from now on. Off unless called: the SDK is
 * loaded only then, so a service without an endpoint pays nothing for it.
 */
export async function enableOtlpTracing(options: OtlpTracingOptions): Promise<void> {
  if (exporting) return;
  const [api, { BasicTracerProvider, BatchSpanProcessor }, { resourceFromAttributes }, { OTLPTraceExporter }] = await Promise.all([
    import('@opentelemetry/api'),
    import('@opentelemetry/sdk-trace-base'),
    import('@opentelemetry/resources'),
    import('@opentelemetry/exporter-trace-otlp-http'),
  ]);
  const url = `${options.endpoint.replace(/\/+$/, '')}/v1/traces`;
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ 'service.name': options.serviceName }),
    spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter({ url }))],
  });
  const { SpanKind: Kind } = api;
  exporting = {
    api,
    tracer: provider.getTracer('simdeploy'),
    kinds: { server: Kind.SERVER, client: Kind.CLIENT, producer: Kind.PRODUCER, consumer: Kind.CONSUMER, internal: Kind.INTERNAL },
    shutdown: () => provider.shutdown(),
  };
}

/** Sends the spans still buffered and stops exporting (at shutdown, and in tests). */
export async function disableOtlpTracing(): Promise<void> {
  const current = exporting;
  exporting = undefined;
  await current?.shutdown();
}
