import { WorkerConfig } from '@simdeploy/config';
import { IsInt, Min } from 'class-validator';

export class ErrorHandlerConfig extends WorkerConfig {
  /** How often the active error handler looks for deployments whose command was lost. */
  @IsInt({ message: 'must be a whole number of milliseconds' })
  @Min(100)
  RECONCILE_INTERVAL_MS: number = 5_000;

  /** How long a deployment must be unchanged before a missing command counts as lost. */
  @IsInt({ message: 'must be a whole number of milliseconds' })
  @Min(0)
  RECONCILE_GRACE_MS: number = 5_000;
}
