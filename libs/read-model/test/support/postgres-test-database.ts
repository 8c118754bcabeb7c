import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import pg from 'pg';

/** The machine's PostgreSQL server (trust auth on loopback); READ_MODEL_TEST_PG_URL points elsewhere. */
export const TEST_PG_URL = process.env['READ_MODEL_TEST_PG_URL'] ?? 'postgres://postgres@127.0.0.1:5432/postgres';

export interface TestDatabase {
  url: string;
  drop(): Promise<void>;
}

/** Why PostgreSQL tests cannot run here, or null when a server answers. */
export async function postgresUnavailable(url = TEST_PG_URL): Promise<string | null> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3_000 });
  try {
    await client.connect();
    await client.query('select 1');
    return null;
  } catch (error) {
    return `no PostgreSQL server answers at ${url} (${error instanceof Error ? error.message : String(error)}); .ci/run installs and starts one`;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** A database of the test's own, created now and dropped (with any connections left) by drop(). */
export async function createTestDatabase(url = TEST_PG_URL): Promise<TestDatabase> {
  const name = `simdeploy_test_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  try {
    await admin.query(`create database ${name}`);
  } finally {
    await admin.end();
  }
  const target = new URL(url);
  target.pathname = `/${name}`;
  return {
    url: target.toString(),
    async drop() {
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      try {
        await client.query(`drop database if exists ${name} with (force)`);
      } finally {
        await client.end();
      }
    },
  };
}

/**
 * postgresUnavailable, answered synchronously (in a child process) for a test file to decide
 * while Jest collects its tests whether the PostgreSQL suites run or are reported skipped.
 */
export function postgresUnavailableSync(url = TEST_PG_URL): string | null {
  const probe = `const pg=require('pg');const c=new pg.Client({connectionString:process.argv[1],connectionTimeoutMillis:3000});c.connect().then(()=>c.query('select 1')).then(()=>c.end()).then(()=>process.exit(0),(e)=>{process.stdout.write(String(e&&e.message||e));process.exit(1)})`;
  const result = spawnSync(process.execPath, ['-e', probe, url], { encoding: 'utf8', timeout: 10_000, cwd: __dirname });
  if (result.status === 0) return null;
  return `no PostgreSQL server answers at ${url} (${result.stdout || result.error?.message || 'no answer'}); .ci/run installs and starts one`;
}
