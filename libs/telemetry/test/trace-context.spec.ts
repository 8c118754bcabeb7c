import { childOf, formatTraceparent, newTrace, parseTraceparent, type TraceContext } from '../src';

/** A traceparent the test knows to be valid, as a context. */
const known = (header: string): TraceContext => {
  const context = parseTraceparent(header);
  if (!context) throw new Error(`invalid traceparent ${header}`);
  return context;
};

describe('W3C traceparent', () => {
  const valid = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';

  it('reads a valid header and writes it back unchanged', () => {
    const context = parseTraceparent(valid);
    expect(context).toEqual({ traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: '00f067aa0ba902b7', flags: 1 });
    expect(formatTraceparent(known(valid))).toBe(valid);
  });

  it.each([
    ['nothing', undefined],
    ['garbage', 'hello'],
    ['a short trace id', '00-4bf92f3577b34da6a3ce929d0e0e47-00f067aa0ba902b7-01'],
    ['an all-zero trace id', '00-00000000000000000000000000000000-00f067aa0ba902b7-01'],
    ['an all-zero span id', '00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01'],
    ['the forbidden version ff', 'ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01'],
    ['version 00 with more fields', `${valid}-extra`],
  ])('refuses %s, so a new trace is started instead', (_, header) => {
    expect(parseTraceparent(header)).toBeNull();
  });

  it('accepts a later version with more fields, as the spec asks', () => {
    expect(parseTraceparent('01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00-more')?.flags).toBe(0);
  });

  it('a child keeps the trace and its flags, with a span id of its own', () => {
    const parent = known(valid);
    const child = childOf(parent);
    expect(child.traceId).toBe(parent.traceId);
    expect(child.flags).toBe(parent.flags);
    expect(child.spanId).toMatch(/^[0-9a-f]{16}$/);
    expect(child.spanId).not.toBe(parent.spanId);
  });

  it('without a parent a new sampled trace starts, valid by its own rules', () => {
    const trace = newTrace();
    expect(parseTraceparent(formatTraceparent(trace))).toEqual(trace);
    expect(childOf(null).traceId).not.toBe(trace.traceId);
  });
});
