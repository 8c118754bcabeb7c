import type { Actor, FailureDetail, FailureSource, NodeRole, OrphanSweptData, SimulationSpec, StopReason } from './events';
import type { Status } from './status';

export interface CommandMetadata {
  /** ISO-8601 time at which the command was issued. The domain never reads the clock. */
  now: string;
  /** Who issued it; services acting on their own use a service actor. */
  by: Actor;
}

export type Command<Type extends string, Data extends object> = Readonly<{
  type: Type;
  data: Readonly<Data>;
  metadata: CommandMetadata;
}>;

export type RequestLaunch = Command<
  'RequestLaunch',
  { deploymentId: string; owner: string; team?: string; spec: SimulationSpec; provider: string }
>;
export type RejectLaunch = Command<'RejectLaunch', { reason: string }>;
export type StartLaunchingNodes = Command<'StartLaunchingNodes', Record<string, never>>;
export type RecordInstance = Command<'RecordInstance', { role: NodeRole; index: number; instanceId: string; nodeName: string }>;
export type StartLaunchingPods = Command<'StartLaunchingPods', Record<string, never>>;
export type MarkRunning = Command<'MarkRunning', Record<string, never>>;
export type RequestStop = Command<'RequestStop', { reason: StopReason }>;
export type StartDeletingPods = Command<'StartDeletingPods', Record<string, never>>;
export type StartDeletingNodes = Command<'StartDeletingNodes', { forcedPods?: readonly string[] }>;
export type StartTerminatingInstances = Command<'StartTerminatingInstances', Record<string, never>>;
export type MarkTerminated = Command<'MarkTerminated', Record<string, never>>;
export type RecordFailure = Command<
  'RecordFailure',
  { source: FailureSource; stage: Status; step: string; error: FailureDetail; attempt: number }
>;
export type RequestCleanupRetry = Command<'RequestCleanupRetry', Record<string, never>>;
export type ResolveAdminReview = Command<'ResolveAdminReview', { comment: string }>;
export type RecordWorkloadCreated = Command<'RecordWorkloadCreated', Record<string, never>>;
export type RecordWorkloadDeleted = Command<'RecordWorkloadDeleted', { forcedPods?: readonly string[] }>;
export type RecordInstancesTerminated = Command<'RecordInstancesTerminated', { instanceIds: readonly string[] }>;
export type ReportWaiting = Command<'ReportWaiting', { stage: Status; step: string; code: string; message: string }>;
export type RecordOrphanSwept = Command<'RecordOrphanSwept', Omit<OrphanSweptData, 'at'>>;
export type RecordWorkloadFailure = Command<'RecordWorkloadFailure', { error: FailureDetail; logs?: readonly string[] }>;
export type RecordAdmitted = Command<'RecordAdmitted', { ledgers: readonly string[] }>;
export type RecordQueued = Command<'RecordQueued', { ledger: string }>;
export type RecordAdmissionReleased = Command<'RecordAdmissionReleased', { ledgers: readonly string[] }>;
export type RecordLogsArchived = Command<'RecordLogsArchived', { location: string | null; pods: readonly string[]; error?: string }>;

export type SimDeploymentCommand =
  | RequestLaunch
  | RejectLaunch
  | StartLaunchingNodes
  | RecordInstance
  | StartLaunchingPods
  | MarkRunning
  | RequestStop
  | StartDeletingPods
  | StartDeletingNodes
  | StartTerminatingInstances
  | MarkTerminated
  | RecordFailure
  | RequestCleanupRetry
  | ResolveAdminReview
  | RecordWorkloadCreated
  | RecordWorkloadDeleted
  | RecordInstancesTerminated
  | ReportWaiting
  | RecordOrphanSwept
  | RecordWorkloadFailure
  | RecordLogsArchived
  | RecordAdmitted
  | RecordQueued
  | RecordAdmissionReleased;

export type SimDeploymentCommandType = SimDeploymentCommand['type'];

/** A command without its metadata: what the process decider asks for; the interpreter adds the time and the actor. */
export type CommandIntent = SimDeploymentCommand extends infer C ? (C extends SimDeploymentCommand ? Omit<C, 'metadata'> : never) : never;

/**
 * Commands that record what a provider did. The fact holds whatever happened to the stream
 * meanwhile, so after a lost race they are decided again on the new state; every other
 * command is a decision taken on the state it was read from, which is looked at afresh.
 */
export const FACT_COMMANDS: readonly SimDeploymentCommandType[] = [
  'RecordInstance',
  'RecordWorkloadCreated',
  'RecordWorkloadDeleted',
  'RecordInstancesTerminated',
  'RecordOrphanSwept',
  'RecordLogsArchived',
  'RecordAdmitted',
  'RecordQueued',
  'RecordAdmissionReleased',
];

export const isFactCommand = (type: SimDeploymentCommandType): boolean => FACT_COMMANDS.includes(type);

/** Builds a command; keeps call sites short and typed. */
export const command = <C extends SimDeploymentCommand>(
  type: C['type'],
  data: C['data'],
  metadata: CommandMetadata,
): C => ({ type, data, metadata }) as C;
