import type { Actor, FailureDetail, FailureSource, NodeRole, SimulationSpec, StopReason } from './events';
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
  { deploymentId: string; owner: string; spec: SimulationSpec; provider: string }
>;
export type RejectLaunch = Command<'RejectLaunch', { reason: string }>;
export type StartLaunchingNodes = Command<'StartLaunchingNodes', Record<string, never>>;
export type RecordInstance = Command<'RecordInstance', { role: NodeRole; index: number; instanceId: string; nodeName: string }>;
export type StartLaunchingPods = Command<'StartLaunchingPods', Record<string, never>>;
export type MarkRunning = Command<'MarkRunning', Record<string, never>>;
export type RequestStop = Command<'RequestStop', { reason: StopReason }>;
export type StartDeletingPods = Command<'StartDeletingPods', Record<string, never>>;
export type StartDeletingNodes = Command<'StartDeletingNodes', Record<string, never>>;
export type StartTerminatingInstances = Command<'StartTerminatingInstances', Record<string, never>>;
export type MarkTerminated = Command<'MarkTerminated', Record<string, never>>;
export type RecordFailure = Command<
  'RecordFailure',
  { source: FailureSource; stage: Status; step: string; error: FailureDetail; attempt: number }
>;
export type RequestCleanupRetry = Command<'RequestCleanupRetry', Record<string, never>>;
export type ResolveAdminReview = Command<'ResolveAdminReview', { comment: string }>;

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
  | ResolveAdminReview;

export type SimDeploymentCommandType = SimDeploymentCommand['type'];

/** Builds a command; keeps call sites short and typed. */
export const command = <C extends SimDeploymentCommand>(
  type: C['type'],
  data: C['data'],
  metadata: CommandMetadata,
): C => ({ type, data, metadata }) as C;
