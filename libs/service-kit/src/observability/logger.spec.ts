import { Logger } from '@nestjs/common';
import { parseTraceparent, withContext, type TraceContext } from '@simdeploy/telemetry';
import { Writable } from 'node:stream';
import { JsonLogger } from './logger';

function capture(level: 'debug' | 'log' | 'warn' | 'error') {
  const lines: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString('utf8').split('\n').filter(Boolean)) lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return { lines, logger: new JsonLogger({ service: 'launcher', level, destination }) };
}

/** A traceparent the test knows to be valid, as a context. */
const known = (header: string): TraceContext => {
  const context = parseTraceparent(header);
  if (!context) throw new Error(`invalid traceparent ${header}`);
  return context;
};

describe('JSON logs', () => {
  afterEach(() => Logger.overrideLogger(false));

  it('one JSON object per line with the service, the Nest context and the ids of the work in progress', () => {
    const { lines, logger } = capture('log');
    Logger.overrideLogger(logger);
    const trace = known('00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01');
    withContext({ deploymentId: 'd-1', commandKind: 'launch', correlationId: 'c-1', causationId: 'd-1:launch:3', trace }, () =>
      new Logger('Interpreter(launcher)').log('appended SimulationRunning'),
    );
    expect(lines).toEqual([
      expect.objectContaining({
        level: 'info',
        service: 'launcher',
        context: 'Interpreter(launcher)',
        msg: 'appended SimulationRunning',
        deploymentId: 'd-1',
        commandKind: 'launch',
        correlationId: 'c-1',
        causationId: 'd-1:launch:3',
        traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
        spanId: '00f067aa0ba902b7',
      }),
    ]);
    expect(typeof lines[0]?.['time']).toBe('string');
  });

  it('lines outside any work carry no ids', () => {
    const { lines, logger } = capture('log');
    logger.log('listening', 'gateway');
    expect(lines[0]).not.toHaveProperty('deploymentId');
    expect(lines[0]).toMatchObject({ context: 'gateway', msg: 'listening' });
  });

  it('honours LOG_LEVEL: warn drops log and debug lines, keeps warn and error', () => {
    const { lines, logger } = capture('warn');
    logger.debug('noise', 'x');
    logger.log('routine', 'x');
    logger.warn('odd', 'x');
    logger.error('broken', 'Error: broken\n    at somewhere', 'x');
    expect(lines.map((l) => [l['level'], l['msg']])).toEqual([
      ['warn', 'odd'],
      ['error', 'broken'],
    ]);
    expect(lines[1]?.['stack']).toContain('at somewhere');
  });

  it('debug shows debug lines', () => {
    const { lines, logger } = capture('debug');
    logger.debug('detail', 'x');
    expect(lines.map((l) => l['level'])).toEqual(['debug']);
  });

  it('an Error is logged with its type and stack', () => {
    const { lines, logger } = capture('log');
    logger.error(new TypeError('bad'), undefined, 'ctx');
    expect(lines[0]).toMatchObject({ level: 'error', msg: 'bad', context: 'ctx', err: expect.objectContaining({ type: 'TypeError' }) });
  });
});
