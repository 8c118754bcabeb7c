import {
  admittedBy,
  decideAdmission,
  emptyLedger,
  evolveAdmission,
  isAdmissionEvent,
  limitsOf,
  standingOf,
  type Actor,
  type AdmissionAnswer,
  type AdmissionCommand,
  type AdmissionEvent,
  type AdmissionState,
  type Limits,
  type Standing,
  schemaVersionMetadata,
} from '@simdeploy/domain';
import { ConcurrencyError, EventStore, NO_STREAM, type StreamRevision } from '@simdeploy/event-store';
import { createHash } from 'node:crypto';
import { Clock } from './settings';

export interface AdmissionSettings {
  /** The default limits of every owner's (or team's) ledger; an admin may override them per ledger. */
  quota: Limits;
  /** Machines at once per provider and instance type (`aws:g4dn.xlarge`), or for all of a provider's types (`aws:*`). */
  capacity: Readonly<Record<string, number>>;
}

export const NO_LIMITS: AdmissionSettings = { quota: { maxActive: null, maxQueued: null }, capacity: {} };

/** The admission settings of a service's configuration (QUOTA_MAX_ACTIVE, QUOTA_MAX_QUEUED, CAPACITY_LIMITS). */
export const admissionSettingsFrom = (config: {
  QUOTA_MAX_ACTIVE?: number;
  QUOTA_MAX_QUEUED?: number;
  CAPACITY_LIMITS?: Record<string, number>;
}): AdmissionSettings => ({
  quota: { maxActive: config.QUOTA_MAX_ACTIVE ?? null, maxQueued: config.QUOTA_MAX_QUEUED ?? null },
  capacity: config.CAPACITY_LIMITS ?? {},
});

/** The stream a ledger lives on: names hold owners' subjects, which a stream id may not. */
export const ledgerStreamId = (ledger: string): string => `ledger-${createHash('sha256').update(ledger).digest('hex').slice(0, 40)}`;

export const quotaLedger = (scope: string): string => `quota:${scope}`;
export const capacityLedger = (key: string): string => `capacity:${key}`;

const MAX_CONFLICTS = 20;

export interface LedgerView {
  /** In force: an admin's override where set, the configured default otherwise. */
  limits: Limits;
  defaults: Limits;
  /** What an admin set (PUT /admin/quotas/...); a field left out is the default. */
  overrides: Partial<Limits>;
  /** Launches holding a share, and the shares they hold (machines, for capacity). */
  active: number;
  used: number;
  queued: number;
}

/** Wakes launches a ledger just let in (sends their launch command). */
export type Wake = (deploymentIds: readonly string[], ledger: string, revision: StreamRevision) => Promise<void>;

interface Loaded {
  state: AdmissionState;
  revision: StreamRevision | null;
}

/**
 * The admission ledgers on the event store: an owner's (or team's) limit on simulations at
 * once, and a provider's capacity in machines of an instance type. Each is its own stream,
 * decided with the domain's admission decider and appended with its expected revision, so
 * launchers racing on several replicas never admit more than the limit. A ledger no limit
 * applies to records nothing.
 */
export class AdmissionLedgers {
  private readonly cache = new Map<string, Loaded>();

  constructor(
    private readonly store: EventStore,
    private readonly settings: AdmissionSettings,
    private readonly clock: Clock,
    private readonly wake: Wake = async () => undefined,
  ) {}

  /** Lets a launch go, puts it in line, or refuses it: the owner's ledger first, then the provider's capacity. */
  async admit(deploymentId: string, scope: string, capacity: string, weight: number): Promise<AdmissionAnswer> {
    const admitted: string[] = [];
    const quota = quotaLedger(scope);
    const fromQuota = await this.request(quota, this.settings.quota, deploymentId, 1);
    if (fromQuota !== 'unlimited') {
      if ('queued' in fromQuota) return { queued: quota, place: fromQuota.place };
      if ('refused' in fromQuota) return { refused: fromQuota.reason };
      admitted.push(quota);
    }
    const machines = capacityLedger(capacity);
    const fromCapacity = await this.request(machines, { maxActive: this.capacityOf(capacity), maxQueued: null }, deploymentId, weight);
    if (fromCapacity !== 'unlimited') {
      if ('queued' in fromCapacity) return { queued: machines, place: fromCapacity.place };
      if ('refused' in fromCapacity) {
        // It will never run: the owner's share goes back at once.
        if (admitted.length > 0) await this.release(deploymentId, admitted);
        return { refused: fromCapacity.reason };
      }
      admitted.push(machines);
    }
    return { admitted };
  }

  /** Gives a launch's shares (or places in line) back; launches that now fit are woken. */
  async release(deploymentId: string, ledgers: readonly string[]): Promise<void> {
    for (const ledger of ledgers) {
      await this.decide(ledger, this.defaultsOf(ledger), { type: 'ReleaseAdmission', data: { deploymentId }, at: this.now() });
    }
  }

  /** An admin's limits for one ledger (recorded, so audited and kept); launches that now fit are woken. */
  async setLimits(ledger: string, limits: Partial<Limits>, by: Actor): Promise<string[]> {
    const { events } = await this.decide(ledger, this.defaultsOf(ledger), { type: 'SetLimits', data: limits, at: this.now(), by });
    return admittedBy(events);
  }

  /** Where a launch stands in a ledger, and the limits in force there. */
  async standing(ledger: string, deploymentId: string): Promise<Standing> {
    return standingOf((await this.load(ledger)).state, deploymentId);
  }

  async view(ledger: string): Promise<LedgerView> {
    const { state } = await this.load(ledger);
    return {
      limits: limitsOf(state, this.defaultsOf(ledger)),
      defaults: this.defaultsOf(ledger),
      overrides: state.overrides ?? {},
      active: state.active.length,
      used: state.active.reduce((sum, s) => sum + s.weight, 0),
      queued: state.queue.length,
    };
  }

  /** The capacity limits configured (CAPACITY_LIMITS), as `provider:type` keys. */
  capacityKeys(): string[] {
    return Object.keys(this.settings.capacity);
  }

  private capacityOf(key: string): number | null {
    const provider = key.slice(0, key.indexOf(':'));
    return this.settings.capacity[key] ?? this.settings.capacity[`${provider}:*`] ?? null;
  }

  private defaultsOf(ledger: string): Limits {
    if (ledger.startsWith('capacity:')) return { maxActive: this.capacityOf(ledger.slice('capacity:'.length)), maxQueued: null };
    return this.settings.quota;
  }

  private async request(ledger: string, defaults: Limits, deploymentId: string, weight: number): Promise<Standing | 'unlimited'> {
    const loaded = await this.load(ledger);
    const standing = standingOf(loaded.state, deploymentId);
    const limits = limitsOf(loaded.state, defaults);
    // Nothing to count against and nobody in line: nothing to record, nothing to give back.
    if ('unknown' in standing && limits.maxActive === null && limits.maxQueued === null && loaded.state.queue.length === 0) return 'unlimited';
    const { events, state } = await this.decide(ledger, defaults, { type: 'RequestAdmission', data: { deploymentId, weight }, at: this.now() });
    const refusal = events.find((e) => e.type === 'LaunchRefused');
    if (refusal && refusal.type === 'LaunchRefused') return { refused: true, reason: refusal.data.reason };
    return standingOf(state, deploymentId);
  }

  /** Decide on the ledger as last read, append with its revision; on a lost race read again and decide again. */
  private async decide(ledger: string, defaults: Limits, command: AdmissionCommand): Promise<{ events: AdmissionEvent[]; state: AdmissionState }> {
    const streamId = ledgerStreamId(ledger);
    for (let attempt = 1; attempt <= MAX_CONFLICTS; attempt++) {
      const loaded = await this.load(ledger);
      const events = decideAdmission(command, loaded.state, defaults, ledger);
      if (events.length === 0) return { events, state: loaded.state };
      try {
        const appended = await this.store.append(
          streamId,
          events.map((e) => ({ type: e.type, data: e.data, metadata: { ledger, ...schemaVersionMetadata() } })),
          loaded.revision ?? NO_STREAM,
        );
        const state = events.reduce(evolveAdmission, loaded.state);
        this.cache.set(streamId, { state, revision: appended.nextRevision });
        const woken = admittedBy(events).filter((id) => command.type !== 'RequestAdmission' || id !== command.data.deploymentId);
        if (woken.length > 0) await this.wake(woken, ledger, appended.nextRevision);
        return { events, state };
      } catch (error) {
        if (!(error instanceof ConcurrencyError)) throw error;
        this.cache.delete(streamId);
      }
    }
    throw new Error(`admission ledger ${ledger} stayed contended for ${MAX_CONFLICTS} tries`);
  }

  /** The ledger's state, reading only events newer than the last ones seen. */
  private async load(ledger: string): Promise<Loaded> {
    const streamId = ledgerStreamId(ledger);
    const cached = this.cache.get(streamId);
    const read = await this.store.readStream(streamId, cached?.revision ? { after: cached.revision } : undefined);
    if (cached && read.events.length === 0) return cached;
    let state = cached?.state ?? emptyLedger();
    for (const recorded of read.events) {
      const event = { type: recorded.type, data: recorded.data };
      if (isAdmissionEvent(event)) state = evolveAdmission(state, event);
    }
    const loaded = { state, revision: read.revision ?? cached?.revision ?? null };
    this.cache.set(streamId, loaded);
    return loaded;
  }

  private now(): string {
    return this.clock.now().toISOString();
  }
}
