import { Logger } from '@nestjs/common';
import { CommonConfig, ConfigError, loadConfig } from '@simdeploy/config';
import { setupObservability } from './observability/setup';

/**
 * Starts a service: reads and validates its configuration first, so a bad variable stops
 * it with a message naming the variable (exit code 2), then logs JSON lines at LOG_LEVEL
 * and exposes its metrics; any start-up failure is one log line and exit code 1 rather
 * than a hanging process.
 */
export function runService<C extends object>(
  name: string,
  ConfigClass: new () => C,
  start: (config: C) => Promise<void>,
): void {
  const logger = new Logger(name);
  let config: C;
  try {
    config = loadConfig(ConfigClass);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`${name}: ${error.message}\n`);
    process.exit(2);
  }
  const observability = config instanceof CommonConfig ? setupObservability(name, config) : Promise.resolve();
  observability.then(() => start(config)).catch((error: unknown) => {
    logger.error(`failed to start: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  });
}
