import { connect, type NatsConnection } from '@nats-io/transport-node';
import {
  UsageError,
  exportEvents,
  formatUsageReport,
  formatVerifyReport,
  jsonLine,
  matches,
  parsePosition,
  parseTime,
  selectEvents,
  tableRow,
  usageFromStore,
  TABLE_HEADER,
  verifyExportLines,
  verifyStore,
  type EventFilter,
} from '@simdeploy/audit';
import { CommonConfig, ConfigError, loadConfig } from '@simdeploy/config';
import { monthStartBefore } from '@simdeploy/domain';
import { EventStore, comparePositions, openEventStore, type RecordedEvent } from '@simdeploy/event-store';
import { openReadModel, permilleOf, runRebuildCommand, type ReadModel } from '@simdeploy/read-model';
import { Presets, SingleBar } from 'cli-progress';
import { createReadStream, createWriteStream, existsSync, renameSync, rmSync } from 'node:fs';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { HELP } from './help';

export interface Io {
  stdout: NodeJS.WritableStream & { isTTY?: boolean };
  stderr: NodeJS.WriteStream;
  env: Record<string, string | undefined>;
  /** Resolves on Ctrl-C (for --follow). */
  interrupted: Promise<void>;
}

const DEPLOYMENT_ID = /^[A-Za-z0-9_-]+$/;

/** Writes a line, waiting when the pipe is full, so a long listing into `less` does not pile up in memory. */
async function writeLine(out: NodeJS.WritableStream, line: string): Promise<void> {
  if (!out.write(`${line}\n`)) await new Promise<void>((done) => out.once('drain', () => done()));
}

const HELP_OPTION = { help: { type: 'boolean', short: 'h' } } as const;

function parse<T extends ParseArgsConfig>(config: T): ReturnType<typeof parseArgs<T>> {
  try {
    return parseArgs<T>(config);
  } catch (error) {
    throw new UsageError((error as Error).message.replace(/^TypeError \[[A-Z_]+\]: /, ''));
  }
}

interface Connected {
  store: EventStore;
  config: CommonConfig;
  close(): Promise<void>;
}

async function connectStore(io: Io): Promise<Connected> {
  const config = loadConfig(CommonConfig, io.env);
  let nc: NatsConnection | null = null;
  try {
    if (config.EVENT_STORE === 'jetstream') nc = await connect({ servers: config.NATS_URL, name: 'simdeploy-cli', reconnect: false, timeout: 5_000 });
  } catch (error) {
    throw new StoreError(`cannot reach NATS at ${config.NATS_URL} (NATS_URL): ${(error as Error).message}`);
  }
  const store = await openEventStore(config, nc);
  return {
    store,
    config,
    close: async () => {
      await store.close();
      await nc?.close();
    },
  };
}

export class StoreError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StoreError';
  }
}

function filterFrom(values: { deployment?: string; from?: string; since?: string; until?: string }): EventFilter {
  if (values.from !== undefined && values.since !== undefined) throw new UsageError('--from and --since cannot be combined: give one starting point');
  if (values.deployment !== undefined && !DEPLOYMENT_ID.test(values.deployment)) throw new UsageError(`--deployment must be a deployment id (letters, digits, - and _), got "${values.deployment}"`);
  const filter: EventFilter = {};
  if (values.deployment !== undefined) filter.deployment = values.deployment;
  if (values.from !== undefined) filter.from = parsePosition(values.from, '--from');
  if (values.since !== undefined) filter.since = parseTime(values.since, '--since');
  if (values.until !== undefined) filter.until = parseTime(values.until, '--until');
  if (filter.since !== undefined && filter.until !== undefined && filter.since > filter.until) throw new UsageError('--since is after --until: nothing can match');
  return filter;
}

async function eventsCommand(args: string[], io: Io): Promise<number> {
  const { values } = parse({ args, strict: true, options: { ...HELP_OPTION,
    deployment: { type: 'string' },
    from: { type: 'string' },
    since: { type: 'string' },
    until: { type: 'string' },
    follow: { type: 'boolean' },
    json: { type: 'boolean' },
  } });
  if (values.help) return help(io, 'events');
  const filter = filterFrom(values);
  if (values.follow && filter.until !== undefined) throw new UsageError('--follow and --until cannot be combined: following has no end');
  const { store, close } = await connectStore(io);
  const print = (event: RecordedEvent) => writeLine(io.stdout, values.json ? jsonLine(event) : tableRow(event));
  try {
    if (!values.json) await writeLine(io.stdout, TABLE_HEADER);
    // One stream is read whole, not up to a store-wide head: following it starts at the head as
    // of before that read, and skips what the read already printed.
    const headBefore = values.follow && filter.deployment !== undefined ? await store.headPosition() : null;
    let last: string | undefined = filter.from;
    for await (const page of selectEvents(store, filter)) {
      for (const event of page) await print(event);
      last = page[page.length - 1]?.position ?? last;
    }
    if (!values.follow) return 0;
    const after = headBefore ?? last;
    const subscription = store.subscribeToAll({ from: after === undefined ? 'start' : { after } });
    void io.interrupted.then(() => subscription.close());
    for await (const event of subscription) {
      if (filter.deployment !== undefined && event.streamId !== filter.deployment) continue;
      if (last !== undefined && comparePositions(event.position, last) <= 0) continue;
      if (!matches(event, { since: filter.since })) continue;
      await print(event);
    }
    return 0;
  } finally {
    await close();
  }
}

/** The read model to compare with, or why there is none. */
async function openForVerify(url: string): Promise<{ readModel: ReadModel | null; skipped?: string }> {
  if (url === 'memory:') return { readModel: null, skipped: 'READ_MODEL_URL=memory: holds nothing outside its own process' };
  if (url.startsWith('sqlite:') && !existsSync(resolve(url.slice('sqlite:'.length)))) {
    return { readModel: null, skipped: `no read model at ${url} (READ_MODEL_URL)` };
  }
  try {
    const readModel = await openReadModel(url, { readOnly: true, poolSize: 4 });
    await readModel.checkpoint();
    return { readModel };
  } catch (error) {
    return { readModel: null, skipped: `the read model at READ_MODEL_URL could not be read: ${(error as Error).message}` };
  }
}

async function verifyCommand(args: string[], io: Io): Promise<number> {
  const { values } = parse({ args, strict: true, options: { ...HELP_OPTION, json: { type: 'boolean' }, 'no-read-model': { type: 'boolean' } } });
  if (values.help) return help(io, 'verify');
  const { store, config, close } = await connectStore(io);
  const { readModel, skipped } = values['no-read-model'] ? { readModel: null, skipped: '--no-read-model' } : await openForVerify(config.READ_MODEL_URL);
  const bar =
    io.stderr.isTTY && !values.json
      ? new SingleBar({ stream: io.stderr, format: 'verifying |{bar}| {percentage}% | {events} events | {rate} events/s | ETA {eta_formatted}', hideCursor: true, etaBuffer: 50 }, Presets.shades_classic)
      : null;
  bar?.start(1000, 0, { events: 0, rate: 0 });
  try {
    const report = await verifyStore(store, {
      readModel,
      readModelSkipped: skipped,
      onProgress: bar
        ? (p) => bar.update(permilleOf(p.position, p.head), { events: p.events.toLocaleString('en'), rate: p.elapsedMs > 0 ? Math.round((p.events * 1000) / p.elapsedMs).toLocaleString('en') : 0 })
        : undefined,
    });
    bar?.update(1000);
    bar?.stop();
    await writeLine(io.stdout, values.json ? JSON.stringify(report) : formatVerifyReport(report));
    return report.ok ? 0 : 1;
  } finally {
    bar?.stop();
    await readModel?.close();
    await close();
  }
}

async function exportCommand(args: string[], io: Io): Promise<number> {
  const { values } = parse({ args, strict: true, options: { ...HELP_OPTION, out: { type: 'string', short: 'o' }, deployment: { type: 'string' }, since: { type: 'string' }, until: { type: 'string' } } });
  if (values.help) return help(io, 'export');
  if (!values.out) throw new UsageError('--out FILE is required: where to write the export');
  const filter = filterFrom(values);
  const target = resolve(values.out);
  const partial = `${target}.partial`;
  const { store, config, close } = await connectStore(io);
  const file = createWriteStream(partial, { flags: 'wx' });
  const opened = new Promise<void>((done, fail) => file.once('open', () => done()).once('error', fail));
  try {
    await opened.catch((error: Error) => {
      throw new UsageError(`--out: cannot write ${partial}: ${error.message}`);
    });
    const result = await exportEvents(store, { ...filter, sinceText: values.since, untilText: values.until }, config.EVENT_STORE, (line) => writeLine(file, line));
    await new Promise<void>((done, fail) => file.end((error?: Error | null) => (error ? fail(error) : done())));
    renameSync(partial, target);
    io.stderr.write(`exported ${result.count} events (positions ${result.firstPosition ?? '-'} to ${result.lastPosition ?? '-'}) to ${values.out}; final hash ${result.finalHash}\n`);
    return 0;
  } catch (error) {
    file.destroy();
    rmSync(partial, { force: true });
    throw error;
  } finally {
    await close();
  }
}

async function verifyExportCommand(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parse({ args, strict: true, allowPositionals: true, options: { ...HELP_OPTION, json: { type: 'boolean' } } });
  if (values.help) return help(io, 'verify-export');
  if (positionals.length !== 1) throw new UsageError('verify-export needs exactly one FILE');
  const path = positionals[0] as string;
  if (!existsSync(path)) throw new UsageError(`FILE: ${path} does not exist`);
  const lines = createInterface({ input: createReadStream(path), crlfDelay: Infinity });
  const check = await verifyExportLines(lines);
  lines.close();
  if (values.json) await writeLine(io.stdout, JSON.stringify(check));
  else if (check.ok) await writeLine(io.stdout, `${path}: intact, ${check.count} events (positions ${check.manifest.firstPosition ?? '-'} to ${check.manifest.lastPosition ?? '-'}, exported ${check.manifest.createdAt} from ${check.manifest.store}); final hash ${check.finalHash}`);
  else await writeLine(io.stdout, `${path}: NOT intact: line ${check.line}: ${check.reason}`);
  return check.ok ? 0 : 1;
}

async function rebuildCommand(args: string[], io: Io): Promise<number> {
  const { values } = parse({ args, strict: true, options: { ...HELP_OPTION, json: { type: 'boolean' } } });
  if (values.help) return help(io, 'rebuild');
  const { store, config, close } = await connectStore(io);
  const readModel = await openReadModel(config.READ_MODEL_URL);
  try {
    await readModel.migrate();
    const result = await runRebuildCommand(store, readModel, io.stderr);
    if (values.json) await writeLine(io.stdout, JSON.stringify(result));
    return 0;
  } finally {
    await readModel.close();
    await close();
  }
}

async function usageCommand(args: string[], io: Io): Promise<number> {
  const { values } = parse({ args, strict: true, options: { ...HELP_OPTION, since: { type: 'string' }, until: { type: 'string' }, owner: { type: 'string' }, team: { type: 'string' }, json: { type: 'boolean' } } });
  if (values.help) return help(io, 'usage');
  const now = Date.now();
  const until = values.until === undefined ? now : parseTime(values.until, '--until');
  const since = values.since === undefined ? Date.parse(monthStartBefore(until)) : parseTime(values.since, '--since');
  if (since >= until) throw new UsageError('--since must be before --until');
  const { store, close } = await connectStore(io);
  try {
    const report = await usageFromStore(store, { since, until, now, ...(values.owner === undefined ? {} : { owner: values.owner }), ...(values.team === undefined ? {} : { team: values.team }) });
    await writeLine(io.stdout, values.json ? JSON.stringify(report) : formatUsageReport(report));
    return 0;
  } finally {
    await close();
  }
}

function help(io: Io, topic: string): number {
  io.stdout.write(`${HELP[topic] ?? HELP['main']}\n`);
  return 0;
}

const COMMANDS: Record<string, (args: string[], io: Io) => Promise<number>> = {
  events: eventsCommand,
  verify: verifyCommand,
  export: exportCommand,
  'verify-export': verifyExportCommand,
  rebuild: rebuildCommand,
  usage: usageCommand,
};

/** Runs one command line; the exit code is the answer. Errors a user can fix are one line, no stack. */
export async function run(argv: string[], io: Io): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') return help(io, 'main');
  const command = COMMANDS[name];
  if (!command) {
    io.stderr.write(`simdeploy: unknown command "${name}" (commands: ${Object.keys(COMMANDS).join(', ')}; simdeploy --help)\n`);
    return 2;
  }
  try {
    return await command(rest, io);
  } catch (error) {
    if (error instanceof UsageError) {
      io.stderr.write(`simdeploy ${name}: ${error.message}\n`);
      return 2;
    }
    if (error instanceof ConfigError) {
      io.stderr.write(`simdeploy ${name}: ${error.message}\n`);
      return 2;
    }
    io.stderr.write(`simdeploy ${name}: ${(error as Error).message ?? String(error)}\n`);
    return 1;
  }
}
