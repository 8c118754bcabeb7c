import {
  applyInstanceIntervalChanges,
  eventTime,
  evolve,
  instanceIntervalChanges,
  machineSeconds,
  upcast,
  type InstanceInterval,
  type SimDeploymentState,
  type UsageRow,
} from '@simdeploy/domain';
import type { EventStore } from '@simdeploy/event-store';
import { scanPages } from './scan';

export interface UsageReport {
  since: string;
  until: string;
  now: string;
  rows: UsageRow[];
  total: { machineSeconds: number; instances: number };
  /** Events read to compute it. */
  events: number;
}

export interface StoreUsageQuery {
  since: number;
  until: number;
  now: number;
  owner?: string;
  team?: string;
}

/**
 * Machine-seconds by owner and instance type, counted straight from the events: every
 * deployment's machine intervals by the domain's rule (instanceIntervalChanges, as the read
 * model's projector applies it), summed by the domain's machineSeconds, the definition
 * GET /usage serves from its SQL aggregate. The two must agree; this one needs no read model.
 */
export async function usageFromStore(store: EventStore, query: StoreUsageQuery): Promise<UsageReport> {
  const states = new Map<string, SimDeploymentState>();
  const intervals = new Map<string, InstanceInterval>();
  let events = 0;
  for await (const page of scanPages(store)) {
    for (const recorded of page) {
      events += 1;
      const event = upcast(recorded);
      if (!event) continue;
      const before = states.get(recorded.streamId) ?? null;
      applyInstanceIntervalChanges(intervals, instanceIntervalChanges(before, event, eventTime(recorded)));
      states.set(recorded.streamId, evolve(before, event));
    }
  }
  const selected = [...intervals.values()].filter(
    (i) => (query.owner === undefined || i.owner === query.owner) && (query.team === undefined || i.team === query.team),
  );
  const rows = machineSeconds(selected, query.since, query.until, query.now);
  const ms = rows.reduce((sum, r) => sum + Math.round(r.machineSeconds * 1000), 0);
  return {
    since: new Date(query.since).toISOString(),
    until: new Date(query.until).toISOString(),
    now: new Date(query.now).toISOString(),
    rows,
    total: { machineSeconds: ms / 1000, instances: rows.reduce((n, r) => n + r.instances, 0) },
    events,
  };
}

/** The report as a table: owner, instance type, machine-seconds, machine-hours, machines. */
export function formatUsageReport(report: UsageReport): string {
  const hours = (seconds: number) => (seconds / 3600).toFixed(3);
  const lines = [`machine time from ${report.since} to ${report.until} (${report.events} events read)`];
  lines.push(`${'owner'.padEnd(24)} ${'instance type'.padEnd(16)} ${'machine-seconds'.padStart(16)} ${'hours'.padStart(10)} ${'machines'.padStart(9)}`);
  for (const r of report.rows) {
    lines.push(`${r.owner.padEnd(24)} ${r.instanceType.padEnd(16)} ${r.machineSeconds.toFixed(3).padStart(16)} ${hours(r.machineSeconds).padStart(10)} ${String(r.instances).padStart(9)}`);
  }
  lines.push(`${'total'.padEnd(24)} ${''.padEnd(16)} ${report.total.machineSeconds.toFixed(3).padStart(16)} ${hours(report.total.machineSeconds).padStart(10)} ${String(report.total.instances).padStart(9)}`);
  return lines.join('\n');
}
