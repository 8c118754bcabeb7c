import { WorkerConfig } from '@simdeploy/config';
import { IsInt, Matches, Min } from 'class-validator';

export class ErrorHandlerConfig extends WorkerConfig {
  /** How often the active error handler looks for deployments whose command was lost. */
  @IsInt({ message: 'must be a whole number of milliseconds' })
  @Min(100)
  RECONCILE_INTERVAL_MS: number = 5_000;

  /** How long a deployment must be unchanged before a missing command counts as lost. */
  @IsInt({ message: 'must be a whole number of milliseconds' })
  @Min(0)
  RECONCILE_GRACE_MS: number = 5_000;

  /** A standby takes over at most about this long after the active error handler died. */
  @IsInt({ message: 'must be a whole number of milliseconds' })
  @Min(1_000)
  LEADER_LEASE_TTL_MS: number = 6_000;

  @Matches(/^[A-Za-z0-9_-]+$/, { message: 'must be a KV bucket name (letters, digits, _ and -)' })
  LEADER_LEASE_BUCKET = 'simdeploy_leases';
}
