import { Logger } from '@nestjs/common';
import { jetstream } from '@nats-io/jetstream';
import { Kvm, type KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { leaseMetrics } from '@simdeploy/telemetry';

export interface LeaderLeaseOptions {
  /** What is led, e.g. `error-handler`: one leader per key. */
  key: string;
  /** The lease store, laid out as a NATS KV bucket (stream `KV_<bucket>`). Default `simdeploy_leases`. */
  bucket?: string;
  /** A leader that stops refreshing loses the lease this long after its last refresh. Default 6 000 ms. */
  ttlMs?: number;
  /** Who holds it, as shown to operators. Default host:pid:random. */
  holder?: string;
}

export interface LeadershipHandlers {
  /** Start the work only the leader does. */
  acquired(): Promise<void> | void;
  /** Stop it: another process may be leading now. */
  lost(): Promise<void> | void;
}

export const DEFAULT_LEASE_BUCKET = 'simdeploy_leases';

/** A lease call stuck on a broken connection gives up after a third of the TTL. */
const leaseCallTimeoutMs = (ttlMs: number): number => Math.max(200, Math.floor(ttlMs / 3));

const describe = (error: unknown): string => (error instanceof Error ? error.message : String(error));

/**
 * A leader lease in a NATS KV bucket (@nats-io/kv) with history 1 and a TTL (`nats kv get
 * simdeploy_leases error-handler` shows the holder). Taking it is a KV create (only when the key
 * is absent); a refresh is a KV update expecting the revision the holder wrote last. The key
 * expires (the bucket's TTL) when its holder stops refreshing, which is when a standby's
 * create succeeds. A leader that cannot confirm a refresh steps down before the key can have
 * expired, so two leaders overlap only if clocks or the server misbehave, and even then every
 * status change is an append with an expected revision.
 */
export class LeaderLease {
  private readonly logger: Logger;
  readonly ttlMs: number;
  readonly holder: string;
  private revision = 0;
  /** Tries to take the lease so far, for diagnostics. */
  attempts = 0;
  private confirmedAt = 0;
  private running = false;
  private loop?: Promise<void>;
  private wake?: () => void;
  private transitions: Promise<void> = Promise.resolve();
  private handlers?: LeadershipHandlers;

  private constructor(
    private readonly nc: NatsConnection,
    private readonly kv: KV,
    private readonly options: LeaderLeaseOptions,
  ) {
    this.ttlMs = options.ttlMs ?? 6_000;
    this.holder = options.holder ?? `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
    this.logger = new Logger(`LeaderLease(${options.key})`);
  }

  /** Creates the bucket if needed (idempotent across racing processes). */
  static async create(nc: NatsConnection, options: LeaderLeaseOptions): Promise<LeaderLease> {
    const bucket = options.bucket ?? DEFAULT_LEASE_BUCKET;
    const ttlMs = options.ttlMs ?? 6_000;
    // The refresh must fail while stepping down in time is still possible (see refresh()).
    const js = jetstream(nc, { timeout: leaseCallTimeoutMs(ttlMs) });
    const kv = await new Kvm(js).create(bucket, { history: 1, ttl: ttlMs });
    return new LeaderLease(nc, kv, options);
  }

  get isLeader(): boolean {
    return this.revision > 0;
  }

  /** Who holds the lease now, or null when nobody does. */
  async currentHolder(): Promise<string | null> {
    const entry = await this.kv.get(this.options.key);
    return entry && entry.operation === 'PUT' ? entry.string() : null;
  }

  /**
   * Competes for the lease until stop(): a standby tries every ttl/2, the leader refreshes
   * every ttl/3. Handlers run one after the other, never two at once.
   */
  start(handlers: LeadershipHandlers): void {
    if (this.running) return;
    this.running = true;
    this.handlers = handlers;
    // A standby shows 0, so "no leader" is a sum of zeros rather than a missing series.
    leaseMetrics.leader.set({ key: this.options.key }, this.isLeader ? 1 : 0);
    this.loop = (async () => {
      while (this.running && !this.nc.isClosed()) {
        if (this.isLeader) await this.refresh();
        else await this.tryAcquire();
        await this.pause(this.isLeader ? this.ttlMs / 3 : this.ttlMs / 2);
      }
      // The connection is gone for good: nothing can be refreshed any more.
      if (this.isLeader && this.nc.isClosed()) this.step('lost');
    })();
  }

  /** Stops competing; a leader hands the lease back at once, so a standby need not wait out the TTL. */
  async stop(): Promise<void> {
    this.running = false;
    this.wake?.();
    await this.loop;
    if (this.isLeader) {
      const held = this.revision;
      this.step('lost');
      await this.release(held);
    }
    await this.transitions;
  }

  /** Resolves once `lost` or `acquired` handlers queued so far have run. */
  settled(): Promise<void> {
    return this.transitions;
  }

  private async tryAcquire(): Promise<void> {
    this.attempts += 1;
    try {
      this.revision = await this.kv.create(this.options.key, this.holder);
      this.confirmedAt = Date.now();
      this.logger.log(`${this.holder} leads`);
      this.step('acquired');
    } catch {
      // Held by someone else (wrong last sequence) or NATS unreachable: a standby stays one.
    }
  }

  private async refresh(): Promise<void> {
    try {
      this.revision = await this.kv.update(this.options.key, this.holder, this.revision);
      this.confirmedAt = Date.now();
    } catch (error) {
      const mismatch = /wrong last sequence/i.test(describe(error));
      // Unconfirmed for two thirds of the TTL: the key may expire before we could know, so stop leading now.
      if (mismatch || Date.now() - this.confirmedAt >= (this.ttlMs * 2) / 3) {
        this.logger.warn(`${this.holder} lost the lease: ${describe(error)}`);
        this.step('lost');
      }
    }
  }

  private step(change: 'acquired' | 'lost'): void {
    if (change === 'lost') this.revision = 0;
    leaseMetrics.leader.set({ key: this.options.key }, change === 'acquired' ? 1 : 0);
    leaseMetrics.transitions.inc({ key: this.options.key, change });
    const handlers = this.handlers;
    if (!handlers) return;
    this.transitions = this.transitions.then(async () => {
      try {
        await handlers[change]();
      } catch (error) {
        this.logger.error(`${change} handler failed: ${describe(error)}`);
      }
    });
  }

  private async release(revision: number): Promise<void> {
    if (this.nc.isClosed()) return;
    try {
      const entry = await this.kv.get(this.options.key);
      if (entry?.revision === revision) await this.kv.purge(this.options.key);
    } catch (error) {
      this.logger.warn(`could not hand back the lease (it expires by itself): ${describe(error)}`);
    }
  }

  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }
}
