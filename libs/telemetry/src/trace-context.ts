import { randomBytes } from 'node:crypto';

/** A W3C trace context (https://www.w3.org/TR/trace-context/), as carried in a `traceparent`. */
export interface TraceContext {
  /** 32 lower-case hex digits, never all zeros. */
  traceId: string;
  /** 16 lower-case hex digits, never all zeros: the span that sent it. */
  spanId: string;
  /** Bit 0: sampled. */
  flags: number;
}

const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/;
const ALL_ZEROS = /^0+$/;

/**
 * Reads a `traceparent` header. Anything malformed is null, so the receiver starts a new
 * trace instead of failing the request: the header comes from outside and is only a hint.
 */
export function parseTraceparent(value: string | undefined | null): TraceContext | null {
  if (typeof value !== 'string') return null;
  const match = TRACEPARENT.exec(value.trim().toLowerCase());
  if (!match) return null;
  const [, version, traceId, spanId, flags, rest] = match as unknown as [string, string, string, string, string, string | undefined];
  // Version ff is forbidden; version 00 has nothing after the flags; later versions may add fields.
  if (version === 'ff' || (version === '00' && rest !== undefined)) return null;
  if (ALL_ZEROS.test(traceId) || ALL_ZEROS.test(spanId)) return null;
  return { traceId, spanId, flags: parseInt(flags, 16) };
}

export const formatTraceparent = (context: TraceContext): string =>
  `00-${context.traceId}-${context.spanId}-${(context.flags & 0xff).toString(16).padStart(2, '0')}`;

const nonZeroHex = (bytes: number): string => {
  for (;;) {
    const hex = randomBytes(bytes).toString('hex');
    if (!ALL_ZEROS.test(hex)) return hex;
  }
};

export const newSpanId = (): string => nonZeroHex(8);

/** A new trace, sampled. */
export const newTrace = (): TraceContext => ({ traceId: nonZeroHex(16), spanId: newSpanId(), flags: 1 });

/** The context of a new span inside `parent`'s trace, or of a new trace when there is no parent. */
export const childOf = (parent: TraceContext | null | undefined): TraceContext =>
  parent ? { traceId: parent.traceId, spanId: newSpanId(), flags: parent.flags } : newTrace();
