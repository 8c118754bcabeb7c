export const Status = {
  Pending: 'Pending',
  LaunchingNodes: 'LaunchingNodes',
  LaunchingPods: 'LaunchingPods',
  Running: 'Running',
  ToBeTerminated: 'ToBeTerminated',
  DeletingPods: 'DeletingPods',
  DeletingNodes: 'DeletingNodes',
  TerminatingInstances: 'TerminatingInstances',
  Terminated: 'Terminated',
  Rejected: 'Rejected',
} as const;
export type Status = (typeof Status)[keyof typeof Status];
export const ALL_STATUSES = Object.values(Status) as readonly Status[];

export const ErrorStatus = {
  InitializationFailed: 'InitializationFailed',
  TerminationFailed: 'TerminationFailed',
  AdminReview: 'AdminReview',
} as const;
export type ErrorStatus = (typeof ErrorStatus)[keyof typeof ErrorStatus];
export const ALL_ERROR_STATUSES = Object.values(ErrorStatus) as readonly ErrorStatus[];

export const LAUNCH_STATUSES: readonly Status[] = [Status.Pending, Status.LaunchingNodes, Status.LaunchingPods];
export const TERMINATION_STATUSES: readonly Status[] = [
  Status.ToBeTerminated,
  Status.DeletingPods,
  Status.DeletingNodes,
  Status.TerminatingInstances,
];
export const FINAL_STATUSES: readonly Status[] = [Status.Terminated, Status.Rejected];

export const isFinal = (status: Status): boolean => FINAL_STATUSES.includes(status);
export const isLaunching = (status: Status): boolean => LAUNCH_STATUSES.includes(status);
export const isTerminating = (status: Status): boolean => TERMINATION_STATUSES.includes(status);

/**
 * Every status change the system may make. A status change not listed here is an
 * illegal transition, whoever asks for it. The rollback edges (a failed launch skips
 * ToBeTerminated and only undoes what its last valid status created) are guarded in
 * `decide` by the error status. One more edge is outside the table on purpose: an admin
 * who resolves a deployment in AdminReview declares it Terminated from wherever it stopped.
 */
export const TRANSITIONS: Readonly<Record<Status, readonly Status[]>> = {
  Pending: [Status.LaunchingNodes, Status.ToBeTerminated, Status.Rejected, Status.Terminated],
  LaunchingNodes: [Status.LaunchingPods, Status.ToBeTerminated, Status.DeletingNodes],
  LaunchingPods: [Status.Running, Status.ToBeTerminated, Status.DeletingPods],
  Running: [Status.ToBeTerminated],
  ToBeTerminated: [Status.DeletingPods],
  DeletingPods: [Status.DeletingNodes],
  DeletingNodes: [Status.TerminatingInstances],
  TerminatingInstances: [Status.Terminated],
  Terminated: [],
  Rejected: [],
};

export const canTransition = (from: Status, to: Status): boolean => TRANSITIONS[from].includes(to);
