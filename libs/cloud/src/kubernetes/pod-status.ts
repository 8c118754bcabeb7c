import type { V1ContainerStatus, V1Pod } from '@kubernetes/client-node';
import type { PendingReason } from '../ports';

/** How long the runtime lets the kubelet try before it calls a waiting container a failure. */
export interface ReadinessPolicy {
  /** ImagePullBackOff for a cause that may pass fails after this many of the kubelet's back-offs. */
  imagePullBackOffLimit: number;
  /** CreateContainerConfigError (a missing secret or config map) fails after this long. */
  createContainerConfigGraceSeconds: number;
  now: () => number;
}

export type PodVerdict =
  | { state: 'ready' }
  /** `summary` is the short word of the pending detail: the phase or the waiting reason. */
  | { state: 'pending'; summary: string; reason?: PendingReason }
  /** `container` names whose logs explain the failure. */
  | { state: 'failed'; code: string; message: string; container?: string };

/**
 * The kubelet's image pull back-off (pkg/kubelet: 10 s, doubling, at most 300 s), which no API
 * field counts: the n-th back-off ends this long after the kubelet took the pod.
 */
export const backOffWindowSeconds = (backOffs: number): number => {
  let total = 0;
  for (let i = 0; i < backOffs; i++) total += Math.min(10 * 2 ** i, 300);
  return total;
};

/**
 * Pull errors that no retry fixes: the image or tag does not exist, or the registry refuses
 * the node's credentials. Anything else (timeouts, 429, 5xx, connection resets) may pass.
 */
const PERMANENT_PULL_CAUSE =
  /manifest unknown|not found|code = NotFound|unauthorized|\b401\b|\b403\b|forbidden|access denied|denied: |insufficient_scope|authorization failed|repository does not exist|invalid reference format/i;

export const isPermanentPullError = (message: string | undefined): boolean => PERMANENT_PULL_CAUSE.test(message ?? '');

/** Waiting reasons that never clear by themselves. */
const HOPELESS_WAITING = new Set(['InvalidImageName', 'ErrImageNeverPull', 'CrashLoopBackOff', 'SignatureValidationFailed']);
/** Waiting reasons that someone may still fix (create the secret), so they fail after a grace period. */
const CONFIG_WAITING = new Set(['CreateContainerConfigError', 'CreateContainerError', 'RunContainerError']);
/** Waiting reasons of a container on its normal way up: shown, but less telling than the others. */
export const ROUTINE_WAITING = new Set(['ContainerCreating', 'PodInitializing', 'Terminating']);

const timeOf = (value: Date | string | undefined): number | undefined => {
  if (value === undefined) return undefined;
  const ms = value instanceof Date ? value.getTime() : Date.parse(value);
  return Number.isNaN(ms) ? undefined : ms;
};

/**
 * What the container runtime (containerd's CRI) calls any exit, by its code: no more than the
 * exit code says. Such an exit is the port's PodExited, as on every other provider; reasons
 * that name a cause (OOMKilled, ContainerCannotRun, StartError, DeadlineExceeded) stay the code.
 */
const PLAIN_EXIT_REASONS = new Set(['Completed', 'Error']);

function terminatedVerdict(podName: string, container: V1ContainerStatus): PodVerdict | undefined {
  const terminated = container.state?.terminated;
  if (!terminated) return undefined;
  const reason = terminated.reason;
  const how =
    terminated.signal !== undefined && terminated.signal !== 0
      ? `killed by signal ${terminated.signal} (exit code ${terminated.exitCode}${reason ? `, ${reason}` : ''})`
      : `exited with code ${terminated.exitCode}${reason ? ` (${reason})` : ''}`;
  return {
    state: 'failed',
    code: reason === undefined || PLAIN_EXIT_REASONS.has(reason) ? 'PodExited' : reason,
    message: `${podName}: container ${container.name} ${how}${terminated.message ? `: ${terminated.message}` : ''}`,
    container: container.name,
  };
}

function waitingVerdict(pod: V1Pod, container: V1ContainerStatus, policy: ReadinessPolicy): PodVerdict | undefined {
  const waiting = container.state?.waiting;
  if (!waiting?.reason) return undefined;
  const podName = pod.metadata?.name ?? 'pod';
  const { reason } = waiting;
  const said = waiting.message ?? reason;
  const pending: PodVerdict = { state: 'pending', summary: reason, reason: { code: reason, message: `${podName}: ${said}` } };
  const failed = (what: string): PodVerdict => ({
    state: 'failed',
    code: reason,
    message: `${podName}: container ${container.name} ${what}: ${said}`,
    container: container.name,
  });
  // The kubelet took the pod then; before that there is no waiting container to judge.
  const since = timeOf(pod.status?.startTime) ?? timeOf(pod.metadata?.creationTimestamp) ?? policy.now();
  const waitedSeconds = (policy.now() - since) / 1000;
  if (HOPELESS_WAITING.has(reason)) return failed('cannot start');
  // The kubelet alternates ErrImagePull (a try failed) and ImagePullBackOff (waiting to try
  // again): both are one pull loop, bounded by the same number of back-offs.
  if (reason === 'ErrImagePull' || reason === 'ImagePullBackOff') {
    if (isPermanentPullError(waiting.message)) return failed('cannot pull its image');
    const limit = policy.imagePullBackOffLimit;
    return waitedSeconds > backOffWindowSeconds(limit) ? failed(`cannot pull its image, still failing after ${limit} back-offs`) : pending;
  }
  if (CONFIG_WAITING.has(reason)) {
    return waitedSeconds > policy.createContainerConfigGraceSeconds ? failed('cannot be created') : pending;
  }
  return pending;
}

/**
 * What one pod says about the launch. A container that terminated fails it (pods never
 * restart); a waiting container is shown with the kubelet's reason and fails only when the
 * reason is permanent or has lasted past its bound; a pod being deleted is never ready.
 */
export function podVerdict(pod: V1Pod, policy: ReadinessPolicy): PodVerdict {
  const name = pod.metadata?.name ?? 'pod';
  if (pod.metadata?.deletionTimestamp) {
    return { state: 'pending', summary: 'Terminating', reason: { code: 'Terminating', message: `${name}: the pod is being deleted` } };
  }
  const containers = pod.status?.containerStatuses ?? [];
  for (const container of containers) {
    const verdict = terminatedVerdict(name, container);
    if (verdict) return verdict;
  }
  for (const container of containers) {
    const verdict = waitingVerdict(pod, container, policy);
    if (verdict?.state === 'failed') return verdict;
  }
  const phase = pod.status?.phase ?? 'Unknown';
  if (phase === 'Failed' || phase === 'Succeeded') {
    // Evicted, NodeLost, OutOfcpu...: the pod ended before any container said why.
    const said = pod.status?.message ?? pod.status?.reason ?? phase;
    return { state: 'failed', code: pod.status?.reason ?? `Pod${phase}`, message: `${name}: pod ${phase}: ${said}` };
  }
  const unscheduled = (pod.status?.conditions ?? []).find((c) => c.type === 'PodScheduled' && c.status === 'False');
  if (unscheduled) {
    const code = unscheduled.reason ?? 'Unschedulable';
    return { state: 'pending', summary: code, reason: { code, message: `${name}: ${unscheduled.message ?? code}` } };
  }
  for (const container of containers) {
    const verdict = waitingVerdict(pod, container, policy);
    if (verdict) return verdict;
  }
  const ready = (pod.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');
  if (phase === 'Running' && ready) return { state: 'ready' };
  return { state: 'pending', summary: phase };
}
