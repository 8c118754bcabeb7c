import { Injectable, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import { cachedSource, deploymentsGauge } from '@simdeploy/telemetry';
import { SimulationsService } from '../services/simulations.service';

export interface DeploymentCount {
  status: string;
  errorStatus: string | null;
  count: number;
}

/** Deployments counted by status and error status, from whatever the read model offers. */
export type DeploymentCounts = () => Promise<readonly DeploymentCount[]>;

/** How often a scrape may recount; several Prometheus servers share the count. */
const RECOUNT_AFTER_MS = 5_000;

export function countByStatus(items: Iterable<{ status: string; errorStatus: string | null }>): DeploymentCount[] {
  const counts = new Map<string, DeploymentCount>();
  for (const { status, errorStatus } of items) {
    const key = `${status}\0${errorStatus ?? ''}`;
    const entry = counts.get(key) ?? { status, errorStatus, count: 0 };
    entry.count += 1;
    counts.set(key, entry);
  }
  return [...counts.values()];
}

/**
 * `simdeploy_deployments{status, error_status}` from the gateway's read model. Every gateway
 * replica reports the same figures: alert on max(), not sum().
 */
@Injectable()
export class DeploymentsGauge implements OnModuleInit, OnModuleDestroy {
  private remove?: () => void;

  constructor(private readonly simulations: SimulationsService) {}

  /** The read model's counts. The one line to change when the read model changes. */
  private readonly counts: DeploymentCounts = async () =>
    countByStatus(this.simulations.projection.list({ limit: Number.MAX_SAFE_INTEGER, offset: 0 }).items);

  onModuleInit(): void {
    const counts = cachedSource(this.counts, RECOUNT_AFTER_MS);
    this.remove = deploymentsGauge.add(async () =>
      (await counts()).map((c) => ({ labels: { status: c.status, error_status: c.errorStatus ?? 'none' }, value: c.count })),
    );
  }

  onModuleDestroy(): void {
    this.remove?.();
  }
}
