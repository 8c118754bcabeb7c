import { currentContext, inSpan, logFields, parseTraceparent, startSpan, withContext, type TraceContext } from '../src';

/** A traceparent the test knows to be valid, as a context. */
const known = (header: string): TraceContext => {
  const context = parseTraceparent(header);
  if (!context) throw new Error(`invalid traceparent ${header}`);
  return context;
};

describe('the work context', () => {
  it('is empty outside any work', () => {
    expect(currentContext()).toEqual({});
    expect(logFields()).toEqual({});
  });

  it('follows the work across awaits and timers, and nested work adds to it', async () => {
    const seen = await withContext({ deploymentId: 'd1', correlationId: 'c1' }, async () => {
      await new Promise((resolve) => setTimeout(resolve, 5));
      return withContext({ commandKind: 'launch', correlationId: undefined }, async () => {
        await Promise.resolve();
        return logFields();
      });
    });
    expect(seen).toEqual({ deploymentId: 'd1', correlationId: 'c1', commandKind: 'launch' });
    expect(currentContext()).toEqual({});
  });

  it('two concurrent pieces of work keep their own ids', async () => {
    const run = (id: string) =>
      withContext({ deploymentId: id }, async () => {
        await new Promise((resolve) => setTimeout(resolve, id === 'a' ? 10 : 1));
        return currentContext().deploymentId;
      });
    expect(await Promise.all([run('a'), run('b')])).toEqual(['a', 'b']);
  });

  it('a span continues the current trace and is the trace of the work inside it', async () => {
    const parent = known('00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01');
    const inner = await withContext({ trace: parent }, () =>
      inSpan('step', {}, async (span) => ({ span: span.context, current: currentContext().trace, fields: logFields() })),
    );
    expect(inner.span.traceId).toBe(parent.traceId);
    expect(inner.span.spanId).not.toBe(parent.spanId);
    expect(inner.current).toEqual(inner.span);
    expect(inner.fields).toEqual({ traceId: parent.traceId, spanId: inner.span.spanId });
  });

  it('an explicit null parent starts a new trace even inside another one', () => {
    const parent = known('00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01');
    const span = withContext({ trace: parent }, () => startSpan('fresh', { parent: null }));
    expect(span.context.traceId).not.toBe(parent.traceId);
  });
});
