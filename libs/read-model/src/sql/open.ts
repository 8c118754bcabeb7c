import Database from 'better-sqlite3';
import { Kysely, PostgresDialect, SqliteDatabase, SqliteDialect } from 'kysely';
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import pg from 'pg';
import { InMemoryReadModel } from '../in-memory-read-model';
import { ProjectorLock, ReadModel } from '../read-model';
import { ReadModelDatabase } from './schema';
import { SqlReadModel } from './sql-read-model';

export interface OpenReadModelOptions {
  /** Queries only: no migration, no projector lock (the error handler beside a projecting gateway). */
  readOnly?: boolean;
  /** PostgreSQL pool size. Default 10. */
  poolSize?: number;
}

/** `sqlite:PATH`, `postgres://...` (or `postgresql://`), or `memory:` for a single process. */
export const READ_MODEL_URL_PATTERN = /^(sqlite:.+|postgres(ql)?:\/\/\S+|memory:)$/;

/**
 * One key per database for "who projects": replicas of one installation share the database,
 * installations on one server do not.
 */
const PROJECTOR_LOCK_KEY = '7305128461937104010';

/** Opens the read model a URL names; the caller migrates it (or, read-only, waits for the writer to). */
export async function openReadModel(url: string, options: OpenReadModelOptions = {}): Promise<ReadModel> {
  if (url === 'memory:') return new InMemoryReadModel();
  if (url.startsWith('sqlite:')) return openSqlite(url.slice('sqlite:'.length), options);
  if (/^postgres(ql)?:\/\//.test(url)) return openPostgres(url, options);
  throw new RangeError(`READ_MODEL_URL must be sqlite:PATH, postgres://... or memory:; got "${url}"`);
}

/**
 * Kysely prepares every query it runs; a list or a batch repeats the same few statements, so
 * they are prepared once per connection (SQLite statements are reusable, and Kysely runs them
 * one at a time).
 */
function withStatementCache(db: Database.Database, size = 256): SqliteDatabase {
  const statements = new Map<string, Database.Statement>();
  return {
    close: () => db.close(),
    prepare: (query: string) => {
      let statement = statements.get(query);
      if (!statement) {
        statement = db.prepare(query);
        statements.set(query, statement);
        if (statements.size > size) statements.delete(statements.keys().next().value as string);
      }
      return statement;
    },
  };
}

function openSqlite(file: string, options: OpenReadModelOptions): ReadModel {
  const path = resolve(file);
  const openReader = async () => {
    const db = new Database(path, { readonly: true, fileMustExist: true });
    db.pragma('busy_timeout = 5000');
    return withStatementCache(db);
  };
  if (options.readOnly) {
    // Opened at the first query: the gateway may create the file after this process starts.
    const reader = new Kysely<ReadModelDatabase>({ dialect: new SqliteDialect({ database: openReader }) });
    return new SqlReadModel({ dialect: 'sqlite', reader, describe: path, onClose: () => reader.destroy() });
  }
  mkdirSync(dirname(path), { recursive: true });
  const connection = new Database(path);
  // WAL lets readers in other processes (the error handler) read while this one writes; with
  // it, synchronous=NORMAL survives a process crash, and the projection can be rebuilt anyway.
  connection.pragma('journal_mode = WAL');
  connection.pragma('synchronous = NORMAL');
  connection.pragma('busy_timeout = 5000');
  const writer = new Kysely<ReadModelDatabase>({ dialect: new SqliteDialect({ database: withStatementCache(connection) }) });
  const reader = new Kysely<ReadModelDatabase>({ dialect: new SqliteDialect({ database: openReader }) });
  return new SqlReadModel({
    dialect: 'sqlite',
    writer,
    reader,
    describe: path,
    onClose: async () => {
      await reader.destroy();
      await writer.destroy();
    },
  });
}

/** The URL without its password, for messages and logs. */
export function describeUrl(url: string): string {
  try {
    const parsed = new URL(url);
    parsed.password = '';
    return parsed.toString();
  } catch {
    return 'the configured database';
  }
}

function openPostgres(url: string, options: OpenReadModelOptions): ReadModel {
  const pool = new pg.Pool({ connectionString: url, max: options.poolSize ?? 10 });
  // An idle connection the server dropped must not end the process; the next query reconnects.
  pool.on('error', () => undefined);
  const db = new Kysely<ReadModelDatabase>({ dialect: new PostgresDialect({ pool }) });
  return new SqlReadModel({
    dialect: 'postgres',
    reader: db,
    ...(options.readOnly ? {} : { writer: db, tryLockProjector: () => tryAdvisoryLock(url) }),
    describe: describeUrl(url),
    onClose: () => db.destroy(),
  });
}

/**
 * A session-level advisory lock on a connection of its own: the server releases it when that
 * connection goes, however the process died, so no lease time has to be tuned.
 */
async function tryAdvisoryLock(url: string): Promise<ProjectorLock | null> {
  const client = new pg.Client({ connectionString: url });
  let held = false;
  client.on('error', () => (held = false));
  client.on('end', () => (held = false));
  await client.connect();
  const { rows } = await client.query<{ locked: boolean }>('select pg_try_advisory_lock($1::bigint) as locked', [PROJECTOR_LOCK_KEY]);
  if (!rows[0]?.locked) {
    await client.end().catch(() => undefined);
    return null;
  }
  held = true;
  return {
    get held() {
      return held;
    },
    release: async () => {
      held = false;
      await client.end().catch(() => undefined);
    },
  };
}
