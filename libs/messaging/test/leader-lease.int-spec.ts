import { jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { uniqueName, waitFor } from '@simdeploy/testing';
import { LeaderLease } from '../src';
import { natsUrl } from './support';

interface Candidate {
  nc: NatsConnection;
  lease: LeaderLease;
  leading: boolean;
  changes: string[];
}

describe('LeaderLease', () => {
  const bucket = uniqueName('leases');
  const ttlMs = 1_500;
  const candidates: Candidate[] = [];

  async function candidate(holder: string): Promise<Candidate> {
    const nc = await connect({ servers: natsUrl() });
    const lease = await LeaderLease.create(nc, { key: 'error-handler', bucket, ttlMs, holder });
    const c: Candidate = { nc, lease, leading: false, changes: [] };
    lease.start({
      acquired: () => {
        c.leading = true;
        c.changes.push('acquired');
      },
      lost: () => {
        c.leading = false;
        c.changes.push('lost');
      },
    });
    candidates.push(c);
    return c;
  }

  afterEach(async () => {
    for (const c of candidates.splice(0)) {
      await c.lease.stop();
      if (!c.nc.isClosed()) await c.nc.close();
    }
  });

  afterAll(async () => {
    const nc = await connect({ servers: natsUrl() });
    await (await jetstreamManager(nc)).streams.delete(`KV_${bucket}`).catch(() => undefined);
    await nc.close();
  });

  it('lets exactly one of two candidates lead', async () => {
    const a = await candidate('a');
    const b = await candidate('b');
    await waitFor(() => a.leading || b.leading, { description: 'a leader' });
    const leader = a.leading ? a : b;
    const standby = leader === a ? b : a;

    // Past a refresh of the leader and a retry of the standby, it is still the same one.
    const firstRevisionHolder = await leader.lease.currentHolder();
    await waitFor(() => standby.lease.attempts >= 2, { description: 'the standby to try again' });
    expect(firstRevisionHolder).toBe(leader.lease.holder);
    expect(await standby.lease.currentHolder()).toBe(leader.lease.holder);
    expect(standby.leading).toBe(false);
    expect(standby.lease.isLeader).toBe(false);
  });

  it('hands over once a leader dies without letting go, after the key expired', async () => {
    const a = await candidate('a');
    await waitFor(() => a.leading, { description: 'a to lead' });
    const b = await candidate('b');

    // Abrupt: no release, no more refreshes; only the TTL ends a's lease.
    await a.nc.close();
    await waitFor(() => b.leading, { timeoutMs: ttlMs * 3, description: 'b to take over' });
    expect(await b.lease.currentHolder()).toBe('b');
    await waitFor(() => a.changes.includes('lost'), { timeoutMs: ttlMs * 2, description: 'a to notice it lost the lease' });
  });

  it('hands over at once when the leader stops cleanly', async () => {
    const a = await candidate('a');
    await waitFor(() => a.leading, { description: 'a to lead' });
    const b = await candidate('b');

    await a.lease.stop();
    expect(a.changes).toEqual(['acquired', 'lost']);
    await waitFor(() => b.leading, { timeoutMs: ttlMs, description: 'b to take over' });
    expect(await b.lease.currentHolder()).toBe('b');
  });
});
