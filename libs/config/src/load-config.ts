import 'reflect-metadata';
import { plainToInstance } from 'class-transformer';
import { ValidationError, getMetadataStorage, validateSync } from 'class-validator';

/** A configuration problem, naming each variable and what it expected. */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n  - ${problems.join('\n  - ')}`);
    this.name = 'ConfigError';
  }
}

const describe = (error: ValidationError, env: Record<string, string | undefined>): string => {
  const got = env[error.property];
  const expected = Object.values(error.constraints ?? {}).join('; ');
  return `${error.property}: ${expected}` + (got === undefined ? ' (not set)' : ` (got "${got}")`);
};

/**
 * Reads a configuration class from the environment once, at start-up. Variables are the
 * class's property names; defaults are the property initialisers; numbers and booleans are
 * converted from their text. Unknown variables are ignored (the environment holds many).
 */
export function loadConfig<T extends object>(
  ConfigClass: new () => T,
  env: Record<string, string | undefined> = process.env,
): T {
  const known = new Set([
    ...Object.keys(new ConfigClass()),
    ...getMetadataStorage()
      .getTargetValidationMetadatas(ConfigClass, '', true, false)
      .map((m) => m.propertyName),
  ]);
  const relevant = Object.fromEntries(
    Object.entries(env).filter(([key, value]) => known.has(key) && value !== undefined && value !== ''),
  );
  const config = plainToInstance(ConfigClass, relevant, { enableImplicitConversion: true, exposeDefaultValues: true });
  const errors = validateSync(config, { forbidUnknownValues: false });
  if (errors.length > 0) throw new ConfigError(errors.map((e) => describe(e, env)));
  return config;
}
