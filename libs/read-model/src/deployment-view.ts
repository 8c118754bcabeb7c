import { ErrorStatus, SimDeployment, Status, describeLedger, latestFailure } from '@simdeploy/domain';

/** What the API shows of a deployment: derived from the state, never stored. */
export interface DeploymentView {
  id: string;
  owner: string;
  /** The owner's team, when teams are configured: its members see and stop it, and its limits count it. */
  team: string | null;
  status: Status;
  errorStatus: ErrorStatus | null;
  /** The latest failure, readable by a person: stage, step, provider code and message. */
  failureReason: string | null;
  failure: {
    stage: Status;
    step: string;
    code: string;
    message: string;
    transient: boolean;
    attempt: number;
    at: string;
  } | null;
  requestedAt: string;
  statusSince: string;
  updatedAt: string;
  runningSince: string | null;
  terminatedAt: string | null;
  provider: string;
  spec: SimDeployment['spec'];
  nodes: { role: string; index: number; instanceId: string | null; nodeName: string | null }[];
  pods: { name: string; role: string; robot: string | null }[];
  /** What the current launch step waits for, as the provider named it (an image pull backing off, say); null when nothing. */
  waiting: { stage: Status; step: string; code: string; message: string; since: string } | null;
  stop: { at: string; by: string; reason: string } | null;
  /** Why a running simulation stopped itself: a pod that exited, with its last log lines. */
  workloadFailure: { at: string; code: string; message: string; logs: string[] } | null;
  resolution: { at: string; by: string; comment: string } | null;
  /**
   * Where the launch stands with the limits: waiting in line (for whose simulations or which
   * machines, and its place when one simulation is asked for), admitted, or withdrawn (stopped
   * while it waited: it never held a place). Null when no limit applied to it.
   */
  admission: { state: 'queued' | 'admitted' | 'withdrawn'; since: string; waitingFor: string | null; place: number | null; released: boolean } | null;
}

export function toView(state: SimDeployment): DeploymentView {
  const failure = latestFailure(state);
  return {
    id: state.id,
    owner: state.owner,
    team: state.team ?? null,
    status: state.status,
    errorStatus: state.errorStatus,
    failureReason: failure
      ? `${failure.stage}/${failure.step} failed after ${failure.attempt} attempt(s): ${failure.error.code}: ${failure.error.message}`
      : null,
    failure: failure
      ? {
          stage: failure.stage,
          step: failure.step,
          code: failure.error.code,
          message: failure.error.message,
          transient: failure.error.transient,
          attempt: failure.attempt,
          at: failure.at,
        }
      : null,
    requestedAt: state.requestedAt,
    statusSince: state.statusSince,
    updatedAt: state.updatedAt,
    runningSince: state.runningSince ?? null,
    terminatedAt: state.terminatedAt ?? null,
    provider: state.provider,
    spec: state.spec,
    nodes: state.nodes.map((n) => ({
      role: n.role,
      index: n.index,
      instanceId: n.instanceId ?? null,
      nodeName: n.nodeName ?? null,
    })),
    pods: state.pods.map((p) => ({ name: p.name, role: p.role, robot: p.robot ?? null })),
    waiting: state.waiting
      ? { stage: state.waiting.stage, step: state.waiting.step, code: state.waiting.code, message: state.waiting.message, since: state.waiting.since }
      : null,
    stop: state.stop ? { at: state.stop.at, by: state.stop.by.subject, reason: state.stop.reason } : null,
    workloadFailure: state.workloadFailure
      ? { at: state.workloadFailure.at, code: state.workloadFailure.error.code, message: state.workloadFailure.error.message, logs: [...(state.workloadFailure.logs ?? [])] }
      : null,
    resolution: state.resolution
      ? { at: state.resolution.at, by: state.resolution.by.subject, comment: state.resolution.comment }
      : null,
    admission: admissionView(state),
  };
}

function admissionView(state: SimDeployment): DeploymentView['admission'] {
  const admission = state.admission;
  if (!admission || (admission.state === 'admitted' && admission.ledgers.length === 0)) return null;
  const withdrawn = admission.state === 'queued' && admission.released === true;
  const queuedIn = admission.state === 'queued' && !withdrawn ? admission.ledgers[0] : undefined;
  return {
    state: withdrawn ? 'withdrawn' : admission.state,
    since: admission.since,
    waitingFor: queuedIn === undefined ? null : describeLedger(queuedIn),
    place: null,
    released: admission.released === true,
  };
}
