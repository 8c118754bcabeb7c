import { DomainError, IllegalTransitionError, NotFoundError, ValidationError } from '../errors';
import type { SimDeploymentCommand } from './commands';
import type { SimDeploymentEvent } from './events';
import { isValidDeploymentId, planNodes, planWorkload } from './plan';
import { unreleasedInstanceIds, type SimDeployment, type SimDeploymentState } from './state';
import { ErrorStatus, Status, canTransition, isFinal, isLaunching, isTerminating } from './status';

/** The events a command produces, or why it may not. An empty list means "already done". */
export type Decision = SimDeploymentEvent[] | DomainError;

const illegal = (cmd: SimDeploymentCommand, state: SimDeployment, detail?: string): IllegalTransitionError =>
  new IllegalTransitionError(cmd.type, state.status, state.errorStatus, detail);

/**
 * A status change requested by a worker: nothing if the deployment is already there, the
 * events if the transition table and the error-status guard allow it, an error otherwise.
 */
function advance(
  cmd: SimDeploymentCommand,
  state: SimDeployment,
  target: Status,
  allowedErrorStatus: (s: SimDeployment) => boolean,
  events: () => SimDeploymentEvent[],
): Decision {
  if (state.errorStatus === ErrorStatus.AdminReview) return illegal(cmd, state, 'awaiting admin review');
  if (!allowedErrorStatus(state)) return illegal(cmd, state);
  if (state.status === target) return [];
  if (!canTransition(state.status, target)) return illegal(cmd, state);
  return events();
}

const healthy = (s: SimDeployment): boolean => s.errorStatus === null;

/** A normal termination, or the error handler finishing a failed one. */
const terminating = (s: SimDeployment): boolean =>
  s.errorStatus === null || s.errorStatus === ErrorStatus.TerminationFailed || s.errorStatus === ErrorStatus.InitializationFailed;

/** A launch status may be left for a deletion status only by a rollback of a failed launch. */
const rollbackOnlyFrom = (launchStatus: Status) => (s: SimDeployment): boolean =>
  s.status === launchStatus ? s.errorStatus === ErrorStatus.InitializationFailed : terminating(s);

function validateLaunch(cmd: Extract<SimDeploymentCommand, { type: 'RequestLaunch' }>): ValidationError | null {
  const { deploymentId, owner, spec } = cmd.data;
  if (!isValidDeploymentId(deploymentId)) return new ValidationError(`deployment id "${deploymentId}" is not a valid id`);
  if (!owner) return new ValidationError('owner is required');
  if (!spec.world || !spec.simulatorImage || !spec.nodeInstanceType) {
    return new ValidationError('world, simulatorImage and nodeInstanceType are required');
  }
  const names = spec.robots.map((r) => r.name);
  if (new Set(names).size !== names.length) return new ValidationError('robot names must be unique');
  if (spec.maxDurationSeconds !== undefined && !(spec.maxDurationSeconds > 0)) {
    return new ValidationError('maxDurationSeconds must be positive');
  }
  return null;
}

/** Statuses in which the cleanup may still meet resources a late launch step created. */
const acceptsLateFacts = (s: SimDeployment): boolean => isTerminating(s.status) || s.status === Status.Terminated;

/** Something a finished deployment still holds: a workload or instance recorded after its cleanup passed. */
export const holdsLateResources = (s: SimDeployment): boolean =>
  s.status === Status.Terminated && (s.workloadHeld || unreleasedInstanceIds(s).length > 0);

/** A share of the admission ledgers (or a place in line) not given back yet. */
export const holdsAdmission = (s: SimDeployment): boolean => s.admission !== undefined && !s.admission.released;

export function decide(cmd: SimDeploymentCommand, state: SimDeploymentState): Decision {
  const at = cmd.metadata.now;

  // Not about a deployment's lifecycle: also recorded on the `sweep` stream, which has none.
  if (cmd.type === 'RecordOrphanSwept') return [{ type: 'OrphanSwept', data: { at, ...cmd.data } }];

  if (cmd.type === 'RequestLaunch') {
    if (state !== null) return new IllegalTransitionError(cmd.type, state.status, state.errorStatus, 'deployment already exists');
    const invalid = validateLaunch(cmd);
    if (invalid) return invalid;
    return [
      {
        type: 'SimulationRequested',
        data: { ...cmd.data, requestedAt: at, requestedBy: cmd.metadata.by },
      },
    ];
  }
  if (state === null) return new NotFoundError(`deployment not found (${cmd.type})`);

  switch (cmd.type) {
    case 'RejectLaunch':
      return advance(cmd, state, Status.Rejected, healthy, () => [
        { type: 'SimulationRejected', data: { at, reason: cmd.data.reason } },
      ]);

    case 'StartLaunchingNodes':
      return advance(cmd, state, Status.LaunchingNodes, healthy, () => [
        { type: 'NodesLaunchStarted', data: { at, nodes: planNodes(state.id, state.spec) } },
      ]);

    case 'RecordInstance': {
      const { role, index, instanceId, nodeName } = cmd.data;
      const node = state.nodes.find((n) => n.role === role && n.index === index);
      if (!node) return new ValidationError(`no ${role} node ${index} is planned`);
      if (node.instanceId === instanceId) return [];
      if (node.instanceId) {
        return new ValidationError(`${role} node ${index} already has instance ${node.instanceId}, not ${instanceId}`);
      }
      // A fact: a stop may have overtaken the launch, even to its end; the cleanup frees it then.
      if (state.status !== Status.LaunchingNodes && !acceptsLateFacts(state)) return illegal(cmd, state);
      return [{ type: 'InstanceLaunched', data: { at, role, index, clientToken: node.clientToken, instanceId, nodeName } }];
    }

    case 'StartLaunchingPods': {
      const missing = state.nodes.filter((n) => !n.instanceId);
      if (state.status === Status.LaunchingNodes && missing.length > 0) {
        return illegal(cmd, state, `nodes without an instance: ${missing.map((n) => `${n.role}/${n.index}`).join(', ')}`);
      }
      return advance(cmd, state, Status.LaunchingPods, healthy, () => [
        { type: 'PodsLaunchStarted', data: { at, ...planWorkload(state.id, state.spec) } },
      ]);
    }

    case 'MarkRunning':
      // Ready pods were created: a deployment is never Running on a workload it has no record of.
      if (state.status === Status.LaunchingPods && !state.workloadHeld) return illegal(cmd, state, 'the workload was not recorded as created');
      return advance(cmd, state, Status.Running, healthy, () => [{ type: 'SimulationRunning', data: { at } }]);

    case 'RequestStop':
      // A stop is harmless whenever it cannot add anything: already stopping, stopped,
      // or owned by the error handler, which will free the machines anyway.
      if (isFinal(state.status) || isTerminating(state.status) || state.errorStatus !== null) return [];
      return [{ type: 'StopRequested', data: { at, by: cmd.metadata.by, reason: cmd.data.reason } }];

    case 'StartDeletingPods':
      return advance(cmd, state, Status.DeletingPods, rollbackOnlyFrom(Status.LaunchingPods), () => [
        { type: 'PodsDeletionStarted', data: { at } },
      ]);

    case 'StartDeletingNodes':
      return advance(cmd, state, Status.DeletingNodes, rollbackOnlyFrom(Status.LaunchingNodes), () => [
        { type: 'NodesDeletionStarted', data: cmd.data.forcedPods?.length ? { at, forcedPods: cmd.data.forcedPods } : { at } },
      ]);

    case 'StartTerminatingInstances':
      return advance(cmd, state, Status.TerminatingInstances, terminating, () => [
        { type: 'InstancesTerminationStarted', data: { at } },
      ]);

    case 'MarkTerminated':
      return advance(cmd, state, Status.Terminated, rollbackOnlyFrom(Status.Pending), () => [
        { type: 'SimulationTerminated', data: { at } },
      ]);

    case 'RecordFailure': {
      const { source, stage, step, error, attempt } = cmd.data;
      const lateCleanup = stage === Status.Terminated && holdsLateResources(state);
      if (!isLaunching(stage) && !isTerminating(stage) && !lateCleanup) {
        return new ValidationError(`a failure is recorded for a launch or termination stage, not ${stage}`);
      }
      // The deployment has moved on (a stop overtook a launch step, say): the failure is stale.
      if (state.status !== stage) return [];
      const data = { at, stage, step, error, attempt };
      if (source === 'error-handler') {
        if (state.errorStatus !== ErrorStatus.InitializationFailed && state.errorStatus !== ErrorStatus.TerminationFailed) {
          return illegal(cmd, state, 'the error handler only fails while handling a failure');
        }
        return [{ type: 'AdminReviewRequired', data }];
      }
      // A worker reporting again what the error handler already owns adds nothing.
      if (state.errorStatus !== null) return [];
      return isLaunching(stage) ? [{ type: 'LaunchFailed', data }] : [{ type: 'TerminationFailed', data }];
    }

    case 'RequestCleanupRetry':
      if (state.errorStatus !== ErrorStatus.AdminReview || isFinal(state.status)) {
        return illegal(cmd, state, 'only an unresolved deployment in admin review can be retried');
      }
      return [{ type: 'CleanupRetryRequested', data: { at, by: cmd.metadata.by } }];

    case 'ResolveAdminReview':
      if (state.errorStatus !== ErrorStatus.AdminReview || state.resolution) {
        return illegal(cmd, state, 'only an unresolved deployment in admin review can be resolved');
      }
      if (!cmd.data.comment.trim()) return new ValidationError('a resolution needs a comment');
      return [{ type: 'AdminReviewResolved', data: { at, by: cmd.metadata.by, comment: cmd.data.comment } }];

    case 'RecordWorkloadCreated':
      if (state.workloadHeld) return [];
      if (state.pods.length === 0 || (state.status !== Status.LaunchingPods && !acceptsLateFacts(state))) return illegal(cmd, state);
      return [{ type: 'WorkloadCreated', data: { at } }];

    case 'RecordWorkloadDeleted':
      if (!state.workloadHeld) return [];
      return [{ type: 'WorkloadDeleted', data: cmd.data.forcedPods?.length ? { at, forcedPods: cmd.data.forcedPods } : { at } }];

    case 'RecordInstancesTerminated': {
      const held = unreleasedInstanceIds(state);
      const instanceIds = cmd.data.instanceIds.filter((id) => held.includes(id));
      return instanceIds.length === 0 ? [] : [{ type: 'InstancesTerminated', data: { at, instanceIds } }];
    }

    case 'RecordAdmitted':
      if (state.status !== Status.Pending || state.errorStatus !== null) return illegal(cmd, state, 'only a pending launch is admitted');
      if (state.admission?.state === 'admitted') return [];
      return [{ type: 'SimulationAdmitted', data: { at, ledgers: cmd.data.ledgers } }];

    case 'RecordQueued':
      if (state.status !== Status.Pending || state.errorStatus !== null) return [];
      if (state.admission?.state === 'queued' && state.admission.ledgers.includes(cmd.data.ledger)) return [];
      return [{ type: 'SimulationQueued', data: { at, ledger: cmd.data.ledger } }];

    case 'RecordAdmissionReleased':
      if (!holdsAdmission(state)) return [];
      return [{ type: 'AdmissionReleased', data: { at, ledgers: cmd.data.ledgers } }];

    case 'RecordLogsArchived': {
      if (!state.workloadHeld || state.logs) return [];
      const { location, pods, error } = cmd.data;
      return [{ type: 'LogsArchived', data: error ? { at, location, pods, error } : { at, location, pods } }];
    }

    case 'RecordWorkloadFailure': {
      // Only a running simulation stops itself; during a launch a failed pod fails the launch instead.
      if (state.status !== Status.Running || state.errorStatus !== null) return [];
      const { error, logs } = cmd.data;
      return [
        { type: 'WorkloadFailed', data: logs?.length ? { at, error, logs } : { at, error } },
        { type: 'StopRequested', data: { at, by: cmd.metadata.by, reason: 'workload-failed' } },
      ];
    }

    case 'ReportWaiting': {
      const { stage, step, code, message } = cmd.data;
      // Only news: the same reason again, or a step the deployment has left, adds nothing.
      if (state.status !== stage || state.errorStatus !== null || state.waiting?.code === code) return [];
      return [{ type: 'WaitingReported', data: { at, stage, step, code, message } }];
    }

    default: {
      const unknownCommand: never = cmd;
      return unknownCommand;
    }
  }
}

/** Which service acts on a deployment in its current state. */
export type WorkOwner = 'launcher' | 'terminator' | 'error-handler';

/**
 * Who owns the deployment's next step, or null when nothing automatic can ever be due (it
 * ended, or it waits for an admin). The launcher owns Running too: it watches the maximum
 * duration. A finished deployment that still holds late resources is the cleanup's again.
 */
export function workOwner(state: SimDeploymentState): WorkOwner | null {
  if (state === null || state.errorStatus === ErrorStatus.AdminReview) return null;
  if (isFinal(state.status)) {
    if (!holdsLateResources(state) && !holdsAdmission(state)) return null;
    return state.errorStatus === null ? 'terminator' : 'error-handler';
  }
  if (state.errorStatus !== null) return 'error-handler';
  if (isLaunching(state.status) || state.status === Status.Running) return 'launcher';
  return 'terminator';
}
