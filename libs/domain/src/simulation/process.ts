import type { CommandIntent } from './commands';
import type { FailureDetail, NodePlan } from './events';
import { holdsAdmission, workOwner, type WorkOwner } from './decide';
import { planNodes } from './plan';
import { unreleasedInstanceIds, type SimDeployment, type SimDeploymentState } from './state';
import { Status } from './status';

/**
 * The process decider: what the system does next for a deployment in a given state at a
 * given time. `decide` says which events a command produces; this says which command to
 * issue, which provider operation to call, or how long to wait. Pure: the interpreter
 * performs the action, feeds what the provider answered back through `react`, and appends.
 */

/** Why a resource is not ready yet, as the provider names it (`ImagePullBackOff`, `Unschedulable`...). */
export interface PendingReason {
  code: string;
  message: string;
}

/** A provider's answer to a readiness check. */
export type Readiness =
  | { state: 'ready' }
  | { state: 'pending'; detail?: string; reason?: PendingReason }
  | { state: 'failed'; error: FailureDetail; logs?: string[] };

/** A provider's answer to a deletion: whether nothing is left, and what it had to remove by force. */
export interface Deletion {
  gone: boolean;
  forced?: readonly string[];
  detail?: string;
}

export interface ProcessSettings {
  nodeReadyTimeoutMs: number;
  podReadyTimeoutMs: number;
  /** How long deleting pods or nodes may take before the step is declared failed. */
  deletionTimeoutMs: number;
  /** How soon a deletion in progress is looked at again. */
  pollIntervalMs: number;
  /**
   * How long a running simulation goes unchecked at most when the batched health watch says
   * nothing (a safety net: the watch wakes it at once when a pod exits).
   */
  healthRecheckMs: number;
  /** How long a launch waiting in an admission line goes unchecked at most (it is woken when admitted). */
  queueRecheckMs: number;
  /** How soon a launch that met a provider's capacity or limit error tries again (until its deadline). */
  capacityRetryMs: number;
}

export interface ProcessContext {
  /** Milliseconds since the epoch: the decider never reads the clock. */
  now: number;
  settings: ProcessSettings;
}

/** The provider operations a step can call; what each needs comes from the state or is named here. */
export type ProviderCall =
  /** Ask the admission ledgers (the owner's or team's limit, the provider's capacity) to let the launch go. */
  | { operation: 'admit'; scope: string; capacity: string; weight: number }
  /** Give the launch's shares of the ledgers back. */
  | { operation: 'release'; ledgers: string[] }
  | { operation: 'launchNode'; node: NodePlan }
  | { operation: 'checkNodes' }
  | { operation: 'checkNodesJoined' }
  | { operation: 'createWorkload' }
  | { operation: 'checkWorkload' }
  | { operation: 'archiveLogs'; pods: string[] }
  | { operation: 'deleteWorkload' }
  | { operation: 'deleteNodes'; nodeNames: string[] }
  | { operation: 'terminateInstances'; instanceIds: string[] }
  | { operation: 'terminateDeployment' };

export type ProviderOperation = ProviderCall['operation'];

/**
 * What a wait is for, when a batched check can tell that it is over before its time: the
 * machines booting, the pods starting. Other waits end at their time only.
 */
export type Watch = 'nodes' | 'workload' | 'health';

export type Action =
  | { type: 'call'; call: ProviderCall }
  | { type: 'command'; command: CommandIntent }
  | {
      type: 'wait';
      /** When to look again at the latest (a phase deadline, the maximum duration, the next deletion poll). */
      until: string;
      watch?: Watch;
      /** The pending reason already recorded, so a watcher wakes the deployment only for a new one. */
      knownReason?: string;
    }
  | { type: 'none' };

/** A provider call that ran out of tries (or failed for good at once). */
export interface CallFailure {
  error: FailureDetail;
  attempts: number;
}

type Outcome<T> = { ok: true; value: T } | { ok: false; failure: CallFailure };

/** What a provider call answered, fed back to `react`. */
export type Observation =
  | { call: Extract<ProviderCall, { operation: 'launchNode' }>; outcome: Outcome<{ instanceId: string; nodeName: string }> }
  | { call: Extract<ProviderCall, { operation: 'checkNodes' | 'checkNodesJoined' | 'checkWorkload' }>; outcome: Outcome<Readiness> }
  | { call: Extract<ProviderCall, { operation: 'createWorkload' | 'terminateInstances' | 'terminateDeployment' }>; outcome: Outcome<unknown> }
  | { call: Extract<ProviderCall, { operation: 'deleteWorkload' | 'deleteNodes' }>; outcome: Outcome<Deletion> }
  | { call: Extract<ProviderCall, { operation: 'archiveLogs' }>; outcome: Outcome<{ location: string }> }
  | { call: Extract<ProviderCall, { operation: 'admit' }>; outcome: Outcome<AdmissionAnswer> }
  | { call: Extract<ProviderCall, { operation: 'release' }>; outcome: Outcome<unknown> };

/**
 * What the ledgers said: go (naming the ledgers that now hold a share; none when no limit
 * applies), wait in line in one of them, or never (the reason).
 */
export type AdmissionAnswer = { admitted: readonly string[] } | { queued: string; place: number } | { refused: string };

export const NOTHING: Action = { type: 'none' };

const command = (intent: CommandIntent): Action => ({ type: 'command', command: intent });
const call = (providerCall: ProviderCall): Action => ({ type: 'call', call: providerCall });
const iso = (ms: number): string => new Date(ms).toISOString();

/** The cleanup has passed the step that deletes the workload. */
const pastPodStep = (s: SimDeployment): boolean =>
  s.status === Status.DeletingNodes || s.status === Status.TerminatingInstances || s.status === Status.Terminated;

/**
 * Whose limit a launch counts against: its team's when it has one, its owner's otherwise.
 * Prefixed, so that a team and a person of the same name never share a limit.
 */
export const admissionScope = (s: Pick<SimDeployment, 'owner' | 'team'>): string => (s.team === undefined ? `owner:${s.owner}` : `team:${s.team}`);
/** Whose machines it needs: a provider's instances of one type. */
export const capacityKey = (s: Pick<SimDeployment, 'provider' | 'spec'>): string => `${s.provider}:${s.spec.nodeInstanceType}`;

/** When the maximum duration stops a running simulation, or null when it has none. */
const maxDurationDue = (s: SimDeployment): number | null =>
  s.spec.maxDurationSeconds && s.runningSince ? Date.parse(s.runningSince) + s.spec.maxDurationSeconds * 1000 : null;

const nodeNames = (s: SimDeployment): string[] => s.nodes.flatMap((n) => (n.nodeName ? [n.nodeName] : []));

/**
 * What to do next for the deployment now, for whichever service owns it (see `workOwner`).
 * Only the time matters here; the settings (deadlines) come in with what a call answered.
 */
export function next(state: SimDeploymentState, ctx: Pick<ProcessContext, 'now'>): Action {
  const owner = workOwner(state);
  if (state === null || owner === null) return NOTHING;
  return owner === 'launcher' ? launching(state, ctx) : cleaningUp(state);
}

function launching(state: SimDeployment, ctx: Pick<ProcessContext, 'now'>): Action {
  switch (state.status) {
    case Status.Pending:
      if (state.admission?.state === 'admitted') return command({ type: 'StartLaunchingNodes', data: {} });
      return call({ operation: 'admit', scope: admissionScope(state), capacity: capacityKey(state), weight: planNodes(state.id, state.spec).length });
    case Status.LaunchingNodes: {
      const missing = state.nodes.find((n) => !n.instanceId);
      if (missing) return call({ operation: 'launchNode', node: planOf(missing) });
      return call({ operation: 'checkNodes' });
    }
    case Status.LaunchingPods:
      return call({ operation: state.workloadHeld ? 'checkWorkload' : 'createWorkload' });
    case Status.Running: {
      const dueAt = maxDurationDue(state);
      if (dueAt !== null && ctx.now >= dueAt) return command({ type: 'RequestStop', data: { reason: 'max-duration' } });
      // Is the simulation still alive? The answer decides how long to wait (see afterHealthCheck).
      return call({ operation: 'checkWorkload' });
    }
    default:
      return NOTHING;
  }
}

/**
 * Frees what the deployment holds, in order: workload, node objects, instances. The
 * terminator runs it for a stop, the error handler to roll back a failed launch from its
 * last valid status and to finish a failed termination from the step that failed. What a
 * late launch step created after its step was passed is freed first.
 */
function cleaningUp(state: SimDeployment): Action {
  if (state.workloadHeld && pastPodStep(state)) return deletingWorkload(state);
  switch (state.status) {
    case Status.Pending:
      return command({ type: 'MarkTerminated', data: {} });
    case Status.LaunchingNodes:
      return command({ type: 'StartDeletingNodes', data: {} });
    case Status.LaunchingPods:
    case Status.ToBeTerminated:
      return command({ type: 'StartDeletingPods', data: {} });
    case Status.DeletingPods:
      return deletingWorkload(state);
    case Status.DeletingNodes:
      return call({ operation: 'deleteNodes', nodeNames: nodeNames(state) });
    case Status.TerminatingInstances:
      return call({ operation: 'terminateInstances', instanceIds: unreleasedInstanceIds(state) });
    case Status.Terminated: {
      const late = unreleasedInstanceIds(state);
      if (late.length > 0) return call({ operation: 'terminateInstances', instanceIds: late });
      return releasing(state);
    }
    case Status.Rejected:
      return releasing(state);
    default:
      return NOTHING;
  }
}

/** Once it ended, a launch gives back its place in the ledgers, so the next in line may go. */
const releasing = (state: SimDeployment): Action =>
  holdsAdmission(state) && state.admission ? call({ operation: 'release', ledgers: [...state.admission.ledgers] }) : NOTHING;

/** The workload's logs go to the archive first, so they outlive the pods; then it is deleted. */
const deletingWorkload = (state: SimDeployment): Action =>
  state.workloadHeld && !state.logs ? call({ operation: 'archiveLogs', pods: state.pods.map((p) => p.name) }) : call({ operation: 'deleteWorkload' });

/** What to do with what a provider call answered. */
export function react(state: SimDeployment, observation: Observation, ctx: ProcessContext): Action {
  const owner = workOwner(state);
  const { call: done, outcome } = observation;
  if (done.operation === 'archiveLogs') {
    // Logs that could not be kept are recorded as lost; they never hold up freeing the machines.
    if (!outcome.ok) return command({ type: 'RecordLogsArchived', data: { location: null, pods: done.pods, error: `${outcome.failure.error.code}: ${outcome.failure.error.message}` } });
    return command({ type: 'RecordLogsArchived', data: { location: (outcome.value as { location: string }).location, pods: done.pods } });
  }
  if (done.operation === 'admit' || done.operation === 'release') {
    // The ledgers are this system's own: when they cannot answer now (contention, the store
    // busy), the launch waits and asks again, it never fails for it.
    if (!outcome.ok) return { type: 'wait', until: iso(ctx.now + ctx.settings.pollIntervalMs) };
    if (done.operation === 'release') return command({ type: 'RecordAdmissionReleased', data: { ledgers: done.ledgers } });
    return afterAdmission(state, outcome.value as AdmissionAnswer, ctx);
  }
  if (!outcome.ok && outcome.failure.error.transient) {
    // Capacity, an account limit, throttling, a provider too slow to answer in time: an overloaded
    // provider makes the step slower, not failed. It is tried again until its deadline.
    const deadline = transientDeadline(state, ctx);
    if (ctx.now < deadline) return { type: 'wait', until: iso(Math.min(ctx.now + ctx.settings.capacityRetryMs, deadline)) };
  }
  if (!outcome.ok) return failed(state, owner, done.operation, outcome.failure);
  switch (done.operation) {
    case 'launchNode': {
      const { instanceId, nodeName } = outcome.value as { instanceId: string; nodeName: string };
      return command({ type: 'RecordInstance', data: { role: done.node.role, index: done.node.index, instanceId, nodeName } });
    }
    case 'checkNodes':
    case 'checkNodesJoined':
    case 'checkWorkload':
      if (state.status === Status.Running) return afterHealthCheck(state, outcome.value as Readiness, ctx);
      return afterCheck(state, owner, done.operation, outcome.value as Readiness, ctx);
    case 'createWorkload':
      return command({ type: 'RecordWorkloadCreated', data: {} });
    case 'deleteWorkload':
    case 'deleteNodes':
      return afterDeletion(state, owner, done.operation, outcome.value as Deletion, ctx);
    case 'terminateInstances':
      if (state.status === Status.Terminated) {
        return command({ type: 'RecordInstancesTerminated', data: { instanceIds: done.instanceIds } });
      }
      // Then whatever carries the deployment's tag without having been recorded (a launcher died in between).
      return call({ operation: 'terminateDeployment' });
    case 'terminateDeployment':
      return command({ type: 'MarkTerminated', data: {} });
  }
}

/** Until when a step keeps trying after transient errors: its phase deadline (launch), or the deletion deadline (cleanup). */
function transientDeadline(state: SimDeployment, ctx: ProcessContext): number {
  const since = Date.parse(state.statusSince);
  switch (state.status) {
    case Status.LaunchingNodes:
      return since + ctx.settings.nodeReadyTimeoutMs;
    case Status.LaunchingPods:
      return since + ctx.settings.podReadyTimeoutMs;
    case Status.Running:
      return Number.POSITIVE_INFINITY;
    default:
      return since + ctx.settings.deletionTimeoutMs;
  }
}

function afterAdmission(state: SimDeployment, answer: AdmissionAnswer, ctx: ProcessContext): Action {
  if ('refused' in answer) return command({ type: 'RejectLaunch', data: { reason: answer.refused } });
  if ('queued' in answer) {
    const recorded = state.admission?.state === 'queued' && state.admission.ledgers.includes(answer.queued);
    if (!recorded) return command({ type: 'RecordQueued', data: { ledger: answer.queued } });
    // Woken when admitted; the safety net only covers a wake-up that was lost.
    return { type: 'wait', until: iso(ctx.now + ctx.settings.queueRecheckMs) };
  }
  // No limit applies: nothing to record or give back later.
  if (answer.admitted.length === 0) return command({ type: 'StartLaunchingNodes', data: {} });
  return command({ type: 'RecordAdmitted', data: { ledgers: answer.admitted } });
}

const WAITS: Record<'checkNodes' | 'checkNodesJoined' | 'checkWorkload', { step: string; timeoutCode: string; watch: Watch }> = {
  checkNodes: { step: 'waitNodesReady', timeoutCode: 'NodeReadyTimeout', watch: 'nodes' },
  checkNodesJoined: { step: 'waitNodesReady', timeoutCode: 'NodeReadyTimeout', watch: 'nodes' },
  checkWorkload: { step: 'waitPodsReady', timeoutCode: 'PodReadyTimeout', watch: 'workload' },
};

function afterCheck(
  state: SimDeployment,
  owner: WorkOwner | null,
  operation: 'checkNodes' | 'checkNodesJoined' | 'checkWorkload',
  readiness: Readiness,
  ctx: ProcessContext,
): Action {
  const { step, timeoutCode, watch } = WAITS[operation];
  if (readiness.state === 'ready') {
    if (operation === 'checkNodes') return call({ operation: 'checkNodesJoined' });
    return command(operation === 'checkWorkload' ? { type: 'MarkRunning', data: {} } : { type: 'StartLaunchingPods', data: {} });
  }
  if (readiness.state === 'failed') {
    const logs = readiness.logs?.length ? `\nlast log lines:\n${readiness.logs.join('\n')}` : '';
    return failed(state, owner, step, { error: { ...readiness.error, message: readiness.error.message + logs, transient: false }, attempts: 1 });
  }
  const timeoutMs = watch === 'nodes' ? ctx.settings.nodeReadyTimeoutMs : ctx.settings.podReadyTimeoutMs;
  const deadline = Date.parse(state.statusSince) + timeoutMs;
  const why = readiness.reason ? `${readiness.reason.code}: ${readiness.reason.message}` : readiness.detail;
  if (ctx.now >= deadline) {
    const message = `not ready after ${Math.round(timeoutMs / 1000)} s` + (why ? ` (${why})` : '');
    return failed(state, owner, step, { error: { code: timeoutCode, message, transient: false }, attempts: 1 });
  }
  // What pods wait for (an image pull, a missing secret, no room on a node) is what users need to see.
  if (watch === 'workload' && readiness.reason && readiness.reason.code !== state.waiting?.code) {
    return command({ type: 'ReportWaiting', data: { stage: state.status, step, ...readiness.reason } });
  }
  return { type: 'wait', until: iso(deadline), watch, ...(state.waiting ? { knownReason: state.waiting.code } : {}) };
}

/**
 * A running simulation's check: a pod that exited stops it with the reason recorded, so its
 * machines are freed; otherwise it waits, watched in batch, until the maximum duration or the
 * next safety-net check, whichever comes first.
 */
function afterHealthCheck(state: SimDeployment, readiness: Readiness, ctx: ProcessContext): Action {
  if (readiness.state === 'failed') {
    return command({ type: 'RecordWorkloadFailure', data: readiness.logs?.length ? { error: readiness.error, logs: readiness.logs } : { error: readiness.error } });
  }
  const recheck = ctx.now + ctx.settings.healthRecheckMs;
  const dueAt = maxDurationDue(state);
  return { type: 'wait', until: iso(dueAt === null ? recheck : Math.min(dueAt, recheck)), watch: 'health' };
}

function afterDeletion(
  state: SimDeployment,
  owner: WorkOwner | null,
  operation: 'deleteWorkload' | 'deleteNodes',
  deletion: Deletion,
  ctx: ProcessContext,
): Action {
  const forced = deletion.forced?.length ? { forcedPods: deletion.forced } : {};
  if (deletion.gone) {
    if (operation === 'deleteNodes') return command({ type: 'StartTerminatingInstances', data: {} });
    if (state.status === Status.DeletingPods) return command({ type: 'StartDeletingNodes', data: forced });
    return command({ type: 'RecordWorkloadDeleted', data: forced });
  }
  // A late workload's deletion counts from when it was recorded, the cleanup's own from its step.
  const late = operation === 'deleteWorkload' && state.status !== Status.DeletingPods;
  const since = Date.parse((late && state.workloadCreatedAt) || state.statusSince);
  const deadline = since + ctx.settings.deletionTimeoutMs;
  if (ctx.now >= deadline) {
    const seconds = Math.round(ctx.settings.deletionTimeoutMs / 1000);
    const message = `still present after ${seconds} s` + (deletion.detail ? ` (${deletion.detail})` : '');
    return failed(state, owner, operation, { error: { code: 'DeletionTimeout', message, transient: false }, attempts: 1 });
  }
  return { type: 'wait', until: iso(Math.min(ctx.now + ctx.settings.pollIntervalMs, deadline)) };
}

function failed(state: SimDeployment, owner: WorkOwner | null, step: string, failure: CallFailure): Action {
  return command({
    type: 'RecordFailure',
    data: {
      source: owner === 'error-handler' ? 'error-handler' : 'worker',
      stage: state.status,
      step,
      error: failure.error,
      attempt: failure.attempts,
    },
  });
}

const planOf = (node: SimDeployment['nodes'][number]): NodePlan => ({
  role: node.role,
  index: node.index,
  clientToken: node.clientToken,
  instanceType: node.instanceType,
});
