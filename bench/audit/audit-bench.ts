/**
 * The audit commands against the raw JetStream read rate, every figure from one run.
 *
 * Run:  npm run build && node bench/run.cjs bench/audit/audit-bench.ts [--quick] [--deployments N]
 * Needs nats-server (PATH, /usr/sbin or $NATS_SERVER_BIN) and the CLI built into dist/. It starts a
 * private nats-server and:
 *
 *   seed     writes 100,000 deployments' lifecycles (--quick: 10,000): 85% launched-ran-stopped,
 *            10% rolled back, 5% rejected, one event per append as the services write them (with
 *            their schema version), interleaved over 512 deployments in flight
 *   raw      reads the whole stream with an ordered consumer, no decoding: the baseline
 *   verify   `simdeploy verify --json --no-read-model` as a child process: re-folds every stream
 *   rebuild  `simdeploy rebuild --json` into a fresh SQLite read model
 *   verify+  `simdeploy verify --json` again, now comparing every deployment with the read model
 *
 * Rates are events per second as each command measures its own work (process start excluded;
 * the wall time of each child is printed beside). Target: verify and rebuild >= 50% of raw.
 */
import { connect } from '@nats-io/transport-node';
import { JetStreamEventStore } from '@simdeploy/event-store';
import { asWritten, lifecycle, startNatsServer, type Outcome } from '@simdeploy/testing';
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { rawRead, writeInterleaved } from '../support/jetstream-load';

const root = resolve(__dirname, '../..');
const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    deployments: { type: 'string' },
  },
});
const DEPLOYMENTS = Number(args.deployments ?? (args.quick ? 10_000 : 100_000));
const IN_FLIGHT = 512;
const STREAM = 'AUDIT_BENCH_EVENTS';
const PREFIX = 'auditbench';

const say = (line: string) => process.stderr.write(`[bench] ${line}\n`);
const rate = (n: number, ms: number) => Math.round((n * 1000) / ms);
const fmt = (n: number) => n.toLocaleString('en');

function outcomeOf(i: number): Outcome {
  const r = i % 20;
  return r < 17 ? 'finished' : r < 19 ? 'rolled-back' : 'rejected';
}

async function seed(store: JetStreamEventStore, deployments: number): Promise<{ events: number; ms: number }> {
  const started = Date.now();
  const t0 = Date.parse('2026-01-01T00:00:00.000Z');
  let n = 0;
  let events = 0;
  let reported = 0;
  const next = () => {
    if (n >= deployments) return null;
    const id = randomUUID();
    const written = asWritten(lifecycle({ id, owner: `user-${n % 100}`, requestedAt: t0 + n * 7_000, outcome: outcomeOf(n), labels: { env: 'prod' } }));
    n++;
    events += written.length;
    return { id, events: written };
  };
  await writeInterleaved(store, next, IN_FLIGHT, () => {
    if (Math.floor(n / 10_000) > reported) {
      reported = Math.floor(n / 10_000);
      say(`${fmt(reported * 10_000)} deployments under way`);
    }
  });
  return { events, ms: Date.now() - started };
}


/** Runs the built CLI; its --json answer and the child's wall time. */
function cli(command: string[], env: Record<string, string>): Promise<{ json: Record<string, unknown>; wallMs: number; code: number | null }> {
  const started = Date.now();
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [join(root, 'bin/simdeploy.cjs'), ...command], { cwd: root, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.once('error', fail);
    child.once('close', (code) => {
      try {
        done({ json: JSON.parse(out) as Record<string, unknown>, wallMs: Date.now() - started, code });
      } catch {
        fail(new Error(`simdeploy ${command.join(' ')} exited ${code} without a JSON answer: ${out.slice(0, 500)}`));
      }
    });
  });
}

async function main(): Promise<void> {
  if (!existsSync(join(root, 'dist/apps/cli/src/main.js'))) throw new Error('dist/apps/cli/src/main.js is missing: run npm run build first');
  const nats = await startNatsServer();
  const dir = mkdtempSync(join(tmpdir(), 'simdeploy-audit-bench-'));
  try {
    const nc = await connect({ servers: nats.url });
    const store = await JetStreamEventStore.create(nc, { streamName: STREAM, subjectPrefix: PREFIX });
    say(`seeding ${fmt(DEPLOYMENTS)} deployments`);
    const seeded = await seed(store, DEPLOYMENTS);
    await nc.close();
    say(`${fmt(seeded.events)} events in ${fmt(seeded.ms)} ms (${fmt(rate(seeded.events, seeded.ms))} appends/s); raw read`);
    const raw = await rawRead(nats.url, STREAM);
    const rawRate = rate(raw.events, raw.ms);

    const env = { NATS_URL: nats.url, EVENTS_STREAM: STREAM, EVENTS_SUBJECT_PREFIX: PREFIX, READ_MODEL_URL: `sqlite:${join(dir, 'read-model.sqlite')}` };
    say('simdeploy verify --no-read-model');
    const verify = await cli(['verify', '--json', '--no-read-model'], env);
    say('simdeploy rebuild');
    const rebuild = await cli(['rebuild', '--json'], env);
    say('simdeploy verify (with the read model)');
    const verifyRm = await cli(['verify', '--json'], env);

    const verifyRate = verify.json['eventsPerSecond'] as number;
    const rebuildRate = rebuild.json['eventsPerSecond'] as number;
    const verifyRmRate = verifyRm.json['eventsPerSecond'] as number;
    const pct = (r: number) => `${Math.round((r * 100) / rawRate)}%`;
    const rows: [string, string, string, string][] = [
      ['raw JetStream consume (ordered, no decoding)', fmt(rawRate), '100%', `${fmt(raw.ms)} ms for ${fmt(raw.events)} messages`],
      ['simdeploy verify (no read model)', fmt(verifyRate), pct(verifyRate), `${fmt(verify.json['elapsedMs'] as number)} ms, wall ${fmt(verify.wallMs)} ms, ok=${String(verify.json['ok'])}`],
      ['simdeploy rebuild (SQLite)', fmt(rebuildRate), pct(rebuildRate), `${fmt(rebuild.json['elapsedMs'] as number)} ms, wall ${fmt(rebuild.wallMs)} ms`],
      ['simdeploy verify (+ read model comparison)', fmt(verifyRmRate), pct(verifyRmRate), `${fmt(verifyRm.json['elapsedMs'] as number)} ms, wall ${fmt(verifyRm.wallMs)} ms, ok=${String(verifyRm.json['ok'])}, compared ${String((verifyRm.json['readModel'] as { checked: number }).checked)}`],
    ];
    const width = Math.max(...rows.map((r) => r[0].length));
    process.stdout.write(`\naudit bench: ${fmt(DEPLOYMENTS)} deployments, ${fmt(seeded.events)} events (target: verify and rebuild >= 50% of raw)\n`);
    process.stdout.write(`${'what'.padEnd(width)}  ${'events/s'.padStart(10)}  ${'of raw'.padStart(6)}  detail\n`);
    for (const [what, r, p, detail] of rows) process.stdout.write(`${what.padEnd(width)}  ${r.padStart(10)}  ${p.padStart(6)}  ${detail}\n`);
    if (verify.code !== 0 || verifyRm.code !== 0) process.stdout.write('note: verify did not pass on the seeded store (see its report)\n');
  } finally {
    await nats.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`[bench] failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
