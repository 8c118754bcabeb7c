import { Injectable, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import { ALL_ERROR_STATUSES, ALL_STATUSES } from '@simdeploy/domain';
import { NO_ERROR, ReadModel, type ErrorStatusFilterValue } from '@simdeploy/read-model';
import { cachedSource, deploymentsGauge } from '@simdeploy/telemetry';

export interface DeploymentCount {
  status: string;
  errorStatus: string | null;
  count: number;
}

/** Deployments counted by status and error status, from whatever the read model offers. */
export type DeploymentCounts = () => Promise<readonly DeploymentCount[]>;

/** How often a scrape may recount; several Prometheus servers share the count. */
const RECOUNT_AFTER_MS = 5_000;

/**
 * `simdeploy_deployments{status, error_status}` from the gateway's read model. Every gateway
 * replica reports the same figures: alert on max(), not sum().
 */
@Injectable()
export class DeploymentsGauge implements OnModuleInit, OnModuleDestroy {
  private remove?: () => void;

  constructor(private readonly readModel: ReadModel) {}

  /** The read model's tallies, one cheap count per status and error status. */
  private readonly counts: DeploymentCounts = async () => {
    const pairs = ALL_STATUSES.flatMap((status) => [...ALL_ERROR_STATUSES, NO_ERROR].map((error) => [status, error as ErrorStatusFilterValue] as const));
    const counted = await Promise.all(
      pairs.map(async ([status, error]) => ({
        status,
        errorStatus: error === NO_ERROR ? null : error,
        count: await this.readModel.count({ statuses: [status], errorStatuses: [error] }),
      })),
    );
    return counted.filter((c) => c.count > 0);
  };

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
