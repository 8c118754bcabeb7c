import type { Actor, Event } from '../simulation/events';

/**
 * Admission: how many launches may hold a share of something at once (an owner's or team's
 * simulations, a provider's machines of one instance type), and who waits in line. One
 * aggregate per ledger, decided and folded like a deployment; a launch asks for admission
 * before it provisions anything, and gives its share back when it ends. First come, first
 * served: nothing overtakes the head of the line.
 */

export interface Limits {
  /** Shares that may be held at once (simulations, or machines); null: no limit. */
  maxActive: number | null;
  /** Launches that may wait in line; null: no limit. */
  maxQueued: number | null;
}

/** An admin's limits for one ledger; a field left out falls back to the configured default. */
export type LimitSet = Event<'LimitSet', { at: string; by: Actor } & Partial<Limits>>;
export type LaunchAdmitted = Event<'LaunchAdmitted', { at: string; deploymentId: string; weight: number }>;
export type LaunchQueued = Event<'LaunchQueued', { at: string; deploymentId: string; weight: number }>;
export type LaunchRefused = Event<'LaunchRefused', { at: string; deploymentId: string; reason: string }>;
export type LaunchReleased = Event<'LaunchReleased', { at: string; deploymentId: string }>;

export type AdmissionEvent = LimitSet | LaunchAdmitted | LaunchQueued | LaunchRefused | LaunchReleased;

export const ADMISSION_EVENT_TYPES: readonly AdmissionEvent['type'][] = ['LimitSet', 'LaunchAdmitted', 'LaunchQueued', 'LaunchRefused', 'LaunchReleased'];

export const isAdmissionEvent = (value: unknown): value is AdmissionEvent =>
  typeof value === 'object' &&
  value !== null &&
  ADMISSION_EVENT_TYPES.includes((value as { type?: unknown }).type as AdmissionEvent['type']) &&
  typeof (value as { data?: unknown }).data === 'object';

export interface Share {
  deploymentId: string;
  weight: number;
  since: string;
}

export interface AdmissionState {
  /** Limits an admin set for this ledger; null fields fall back to the configured defaults. */
  overrides: Partial<Limits> | null;
  active: readonly Share[];
  queue: readonly Share[];
}

export const emptyLedger = (): AdmissionState => ({ overrides: null, active: [], queue: [] });

export function evolveAdmission(state: AdmissionState, event: AdmissionEvent): AdmissionState {
  switch (event.type) {
    case 'LimitSet': {
      const { maxActive, maxQueued } = event.data;
      const overrides = { ...(maxActive === undefined ? {} : { maxActive }), ...(maxQueued === undefined ? {} : { maxQueued }) };
      return { ...state, overrides: Object.keys(overrides).length > 0 ? overrides : null };
    }
    case 'LaunchAdmitted': {
      const { deploymentId, weight, at } = event.data;
      return {
        ...state,
        queue: state.queue.filter((s) => s.deploymentId !== deploymentId),
        active: [...state.active.filter((s) => s.deploymentId !== deploymentId), { deploymentId, weight, since: at }],
      };
    }
    case 'LaunchQueued': {
      const { deploymentId, weight, at } = event.data;
      return { ...state, queue: [...state.queue, { deploymentId, weight, since: at }] };
    }
    case 'LaunchRefused':
      return state;
    case 'LaunchReleased': {
      const gone = (s: Share) => s.deploymentId !== event.data.deploymentId;
      return { ...state, active: state.active.filter(gone), queue: state.queue.filter(gone) };
    }
    default: {
      const unknown: never = event;
      return unknown;
    }
  }
}

export const foldAdmission = (events: readonly AdmissionEvent[]): AdmissionState => events.reduce(evolveAdmission, emptyLedger());

/** The limits in force: an admin's override where set, the configured default otherwise. */
export const limitsOf = (state: AdmissionState, defaults: Limits): Limits => ({
  maxActive: state.overrides?.maxActive !== undefined ? state.overrides.maxActive : defaults.maxActive,
  maxQueued: state.overrides?.maxQueued !== undefined ? state.overrides.maxQueued : defaults.maxQueued,
});

export const usedShares = (state: AdmissionState): number => state.active.reduce((sum, s) => sum + s.weight, 0);

export type AdmissionCommand =
  | { type: 'RequestAdmission'; data: { deploymentId: string; weight: number }; at: string }
  | { type: 'ReleaseAdmission'; data: { deploymentId: string }; at: string }
  | { type: 'SetLimits'; data: Partial<Limits>; at: string; by: Actor };

/** A ledger's name as a reason shows it: `quota:team:nav` is "team nav's simulations". */
export function describeLedger(ledger: string): string {
  const [kind, scope, ...rest] = ledger.split(':');
  const name = rest.join(':');
  if (kind === 'quota' && scope === 'team') return `team ${name}'s simulations`;
  if (kind === 'quota' && scope === 'owner') return `${name}'s simulations`;
  if (kind === 'capacity') return `${scope}'s ${name === '*' ? '' : `${name} `}machines`;
  return ledger;
}

/** Where a launch stands in a ledger. */
export type Standing = { admitted: true } | { queued: true; place: number } | { refused: true; reason: string } | { unknown: true };

export function standingOf(state: AdmissionState, deploymentId: string): Standing {
  if (state.active.some((s) => s.deploymentId === deploymentId)) return { admitted: true };
  const place = state.queue.findIndex((s) => s.deploymentId === deploymentId);
  return place >= 0 ? { queued: true, place: place + 1 } : { unknown: true };
}

/** Launches at the head of the line that fit now, in order: the head is never overtaken. */
function admitFromQueue(state: AdmissionState, limits: Limits, at: string): LaunchAdmitted[] {
  const admitted: LaunchAdmitted[] = [];
  let used = usedShares(state);
  for (const share of state.queue) {
    if (limits.maxActive !== null && used + share.weight > limits.maxActive) break;
    used += share.weight;
    admitted.push({ type: 'LaunchAdmitted', data: { at, deploymentId: share.deploymentId, weight: share.weight } });
  }
  return admitted;
}

/**
 * What a ledger does with a request, given the configured default limits. Asking again is
 * harmless: an admitted or queued launch gets no second entry. A launch that can never fit
 * (it needs more than the whole limit) or finds the line full is refused with the reason.
 */
export function decideAdmission(command: AdmissionCommand, state: AdmissionState, defaults: Limits, ledger: string): AdmissionEvent[] {
  const limits = limitsOf(state, defaults);
  switch (command.type) {
    case 'RequestAdmission': {
      const { deploymentId, weight } = command.data;
      if (!('unknown' in standingOf(state, deploymentId))) return [];
      if (limits.maxActive !== null && weight > limits.maxActive) {
        const reason = `it needs ${weight} of ${describeLedger(ledger)} and at most ${limits.maxActive} may be held at once`;
        return [{ type: 'LaunchRefused', data: { at: command.at, deploymentId, reason } }];
      }
      const fits = limits.maxActive === null || usedShares(state) + weight <= limits.maxActive;
      if (state.queue.length === 0 && fits) return [{ type: 'LaunchAdmitted', data: { at: command.at, deploymentId, weight } }];
      if (limits.maxQueued !== null && state.queue.length >= limits.maxQueued) {
        const waiting = state.queue.length === 1 ? '1 launch is' : `${state.queue.length} launches are`;
        const reason = `the line for ${describeLedger(ledger)} is full: ${waiting} already waiting, the most allowed`;
        return [{ type: 'LaunchRefused', data: { at: command.at, deploymentId, reason } }];
      }
      return [{ type: 'LaunchQueued', data: { at: command.at, deploymentId, weight } }];
    }
    case 'ReleaseAdmission': {
      const { deploymentId } = command.data;
      if ('unknown' in standingOf(state, deploymentId)) return [];
      const released: LaunchReleased = { type: 'LaunchReleased', data: { at: command.at, deploymentId } };
      return [released, ...admitFromQueue(evolveAdmission(state, released), limits, command.at)];
    }
    case 'SetLimits': {
      const set: LimitSet = { type: 'LimitSet', data: { at: command.at, by: command.by, ...command.data } };
      const after = evolveAdmission(state, set);
      return [set, ...admitFromQueue(after, limitsOf(after, defaults), command.at)];
    }
    default: {
      const unknown: never = command;
      return unknown;
    }
  }
}

/** The ids a decision admitted: the launches to wake. */
export const admittedBy = (events: readonly AdmissionEvent[]): string[] =>
  events.flatMap((e) => (e.type === 'LaunchAdmitted' ? [e.data.deploymentId] : []));
