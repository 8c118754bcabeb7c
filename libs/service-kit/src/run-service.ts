import { Logger } from '@nestjs/common';
import { ConfigError, loadConfig } from '@simdeploy/config';

/**
 * Starts a service: reads and validates its configuration first, so a bad variable stops
 * it with a message naming the variable (exit code 2), and any start-up failure is one
 * log line and exit code 1 rather than a hanging process.
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
  start(config).catch((error: unknown) => {
    logger.error(`failed to start: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  });
}
