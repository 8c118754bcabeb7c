import type { LoggerService, LogLevel } from '@nestjs/common';
import { logFields } from '@simdeploy/telemetry';
import pino, { type DestinationStream, type Level, type Logger as Pino } from 'pino';

/** LOG_LEVEL names Nest's levels; pino's names differ for two of them. */
const PINO_LEVEL: Record<LogLevel, Level> = { fatal: 'fatal', error: 'error', warn: 'warn', log: 'info', debug: 'debug', verbose: 'trace' };

export interface JsonLoggerOptions {
  service: string;
  /** The least severe level written (LOG_LEVEL). */
  level: LogLevel;
  /** Default: stdout, written synchronously so a line logged just before an exit is not lost. */
  destination?: DestinationStream;
}

/**
 * Nest's logger as JSON lines through pino: `{"level":"info","time":...,"service":"launcher",
 * "context":"Interpreter(launcher)","msg":"...","deploymentId":...}`. The ids of the work in
 * progress (deployment, command kind, correlation, causation, trace) are added to every line
 * from the telemetry context, so no call site has to pass them.
 */
export class JsonLogger implements LoggerService {
  readonly pino: Pino;

  constructor(options: JsonLoggerOptions) {
    this.pino = pino(
      {
        level: PINO_LEVEL[options.level],
        base: { service: options.service, pid: process.pid },
        timestamp: pino.stdTimeFunctions.isoTime,
        formatters: { level: (label) => ({ level: label }) },
        mixin: () => logFields(),
      },
      options.destination ?? pino.destination({ dest: 1, sync: true }),
    );
  }

  log(message: unknown, ...params: unknown[]): void {
    this.write('info', message, params);
  }

  error(message: unknown, ...params: unknown[]): void {
    this.write('error', message, params, true);
  }

  warn(message: unknown, ...params: unknown[]): void {
    this.write('warn', message, params);
  }

  debug(message: unknown, ...params: unknown[]): void {
    this.write('debug', message, params);
  }

  verbose(message: unknown, ...params: unknown[]): void {
    this.write('trace', message, params);
  }

  fatal(message: unknown, ...params: unknown[]): void {
    this.write('fatal', message, params, true);
  }

  setLogLevels(levels: LogLevel[]): void {
    // Nest hands the enabled levels; the least severe of them is the threshold.
    const order: LogLevel[] = ['verbose', 'debug', 'log', 'warn', 'error', 'fatal'];
    const least = order.find((level) => levels.includes(level));
    if (least) this.pino.level = PINO_LEVEL[least];
  }

  /**
   * Nest's calling convention: the logger's context comes last; error() may put a stack
   * trace before it (`error(message, stack, context)`).
   */
  private write(level: Level, message: unknown, params: unknown[], mayHaveStack = false): void {
    if (!this.pino.isLevelEnabled(level)) return;
    const rest = params.filter((p) => p !== undefined);
    const fields: Record<string, unknown> = {};
    if (params.length > 0 && typeof params[params.length - 1] === 'string') {
      fields['context'] = params[params.length - 1];
      rest.pop();
    }
    if (mayHaveStack && typeof rest[0] === 'string' && rest[0].includes('\n')) fields['stack'] = rest.shift();
    if (rest.length > 0) fields['details'] = rest;
    if (message instanceof Error) {
      fields['err'] = message;
      this.pino[level](fields, message.message);
    } else if (typeof message === 'object' && message !== null) {
      const { msg, message: text, ...others } = message as Record<string, unknown>;
      this.pino[level]({ ...others, ...fields }, String(msg ?? text ?? ''));
    } else {
      this.pino[level](fields, String(message));
    }
  }
}
