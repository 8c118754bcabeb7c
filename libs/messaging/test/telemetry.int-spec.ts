import { currentContext, logFields, metricsRegistry, parseTraceparent, withContext } from '@simdeploy/telemetry';
import { waitFor } from '@simdeploy/testing';
import { CommandTestBed, launchCommand } from './support';

/** A counter's current value for these labels (0 when the series does not exist yet). */
async function valueOf(name: string, labels: Record<string, string>): Promise<number> {
  const metric = (await metricsRegistry.getMetricsAsJSON()).find((m) => m.name === name);
  const series = (metric?.values ?? []) as { labels: Record<string, string | number>; value: number }[];
  return series.filter((s) => Object.entries(labels).every(([k, v]) => s.labels[k] === v)).reduce((sum, s) => sum + s.value, 0);
}

describe('the command server: metrics and trace context', () => {
  let bed: CommandTestBed;

  afterEach(async () => {
    await bed.dispose();
  });

  it('counts deliveries, acks, naks (requested and error), redeliveries and handler time per kind', async () => {
    bed = await CommandTestBed.create();
    const seen = new Map<string, number>();
    await bed.startReplica(
      (msg) => {
        const delivery = (seen.get(msg.deploymentId) ?? 0) + 1;
        seen.set(msg.deploymentId, delivery);
        // dep-retry asks to be called again once; dep-fail throws once; dep-ok is done at once.
        if (msg.deploymentId === 'dep-retry' && delivery === 1) return { retryAfterMs: 10 };
        if (msg.deploymentId === 'dep-fail' && delivery === 1) throw new Error('provider hiccup');
        return { done: true };
      },
      { retryBackoff: { baseMs: 10, maxMs: 10 } },
    );
    const kind = { kind: 'launch' };
    const start = {
      received: await valueOf('simdeploy_commands_received_total', kind),
      acked: await valueOf('simdeploy_commands_acked_total', kind),
      redelivered: await valueOf('simdeploy_commands_redelivered_total', kind),
      requested: await valueOf('simdeploy_commands_naked_total', { ...kind, reason: 'requested' }),
      error: await valueOf('simdeploy_commands_naked_total', { ...kind, reason: 'error' }),
      timed: await valueOf('simdeploy_command_handler_duration_seconds', kind),
    };

    for (const id of ['dep-ok', 'dep-retry', 'dep-fail']) await bed.bus.send(launchCommand(id));
    await waitFor(async () => (await valueOf('simdeploy_commands_acked_total', kind)) - start.acked === 3, { description: 'three commands acked' });

    expect((await valueOf('simdeploy_commands_received_total', kind)) - start.received).toBe(5);
    expect((await valueOf('simdeploy_commands_redelivered_total', kind)) - start.redelivered).toBe(2);
    expect((await valueOf('simdeploy_commands_naked_total', { ...kind, reason: 'requested' })) - start.requested).toBe(1);
    expect((await valueOf('simdeploy_commands_naked_total', { ...kind, reason: 'error' })) - start.error).toBe(1);
    expect(await valueOf('simdeploy_commands_in_flight', kind)).toBe(0);
    // One duration per delivery (the histogram's JSON carries buckets, sum and count: count them by outcome).
    const durations = (await metricsRegistry.getMetricsAsJSON()).find((m) => m.name === 'simdeploy_command_handler_duration_seconds');
    const counts = (durations?.values ?? []).filter((v) => (v as { metricName?: string }).metricName === 'simdeploy_command_handler_duration_seconds_count');
    expect(counts.reduce((sum, v) => sum + v.value, 0) - start.timed).toBeGreaterThanOrEqual(5);
  });

  it('continues the sender\'s trace in the handler, with the command\'s ids on every log line', async () => {
    bed = await CommandTestBed.create();
    const contexts: ReturnType<typeof logFields>[] = [];
    await bed.startReplica(() => {
      contexts.push(logFields(currentContext()));
    });
    const trace = parseTraceparent('00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01');
    await withContext({ trace: trace ?? undefined }, () => bed.bus.send(launchCommand('dep-traced', { correlationId: 'corr-1' }), { messageId: 'dep-traced:launch:4' }));
    await bed.bus.send(launchCommand('dep-untraced'));
    await waitFor(() => contexts.length === 2, { description: 'both commands handled' });

    const traced = contexts.find((c) => c['deploymentId'] === 'dep-traced');
    expect(traced).toEqual({
      deploymentId: 'dep-traced',
      commandKind: 'launch',
      correlationId: 'corr-1',
      causationId: 'dep-traced:launch:4',
      traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
      spanId: expect.stringMatching(/^[0-9a-f]{16}$/),
    });
    expect(traced?.['spanId']).not.toBe('00f067aa0ba902b7');
    // A command sent outside any trace starts one of its own.
    const untraced = contexts.find((c) => c['deploymentId'] === 'dep-untraced');
    expect(untraced?.['traceId']).toMatch(/^[0-9a-f]{32}$/);
    expect(untraced?.['traceId']).not.toBe('4bf92f3577b34da6a3ce929d0e0e4736');
  });

  it('reports the consumer\'s backlog while the replica runs, and stops reporting when it closes', async () => {
    bed = await CommandTestBed.create();
    const app = await bed.startReplica(() => undefined);
    const consumer = bed.topology.consumerNames?.launch ?? 'launch';
    const body = await metricsRegistry.getSingleMetricAsString('simdeploy_jetstream_consumer_pending');
    expect(body).toContain(`simdeploy_jetstream_consumer_pending{kind="launch",consumer="${consumer}"} 0`);
    await app.close();
    expect(await metricsRegistry.getSingleMetricAsString('simdeploy_jetstream_consumer_pending')).not.toContain('kind="launch"');
  });
});
