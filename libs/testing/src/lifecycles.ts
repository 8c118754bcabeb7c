import {
  Actor,
  DomainError,
  SimDeploymentCommand,
  SimDeploymentEvent,
  SimDeploymentState,
  SimulationSpec,
  Status,
  command,
  decide,
  evolve,
} from '@simdeploy/domain';

/** How a generated lifecycle ends. */
export type Outcome = 'finished' | 'rolled-back' | 'rejected' | 'running' | 'waiting' | 'admin-review';

export interface LifecycleOptions {
  id: string;
  owner: string;
  /** Epoch milliseconds of the request; each later step is `stepMs` after the previous one. */
  requestedAt: number;
  outcome?: Outcome;
  labels?: Record<string, string>;
  /** The owner's team, as the gateway records it when teams are configured. */
  team?: string;
  robots?: number;
  stepMs?: number;
}

const SERVICE: Actor = { subject: 'service:launcher', roles: ['service'] };
const FAULT = { code: 'InsufficientInstanceCapacity', message: 'no capacity in eu-west-1a', transient: false };

type DataOf<T extends SimDeploymentCommand['type']> = Extract<SimDeploymentCommand, { type: T }>['data'];

/**
 * The events of one deployment's lifecycle as the system records them: every step is a
 * command decided on the state so far, so the events are what the decider itself produces.
 */
export function lifecycle(options: LifecycleOptions): SimDeploymentEvent[] {
  const stepMs = options.stepMs ?? 1000;
  const owner: Actor = { subject: options.owner, roles: [] };
  const spec: SimulationSpec = {
    world: 'warehouse.sdf',
    simulatorImage: 'gz:harmonic',
    robots: Array.from({ length: options.robots ?? 1 }, (_, i) => ({ name: `r${i}`, image: 'robot:1' })),
    nodeInstanceType: 'g4dn.xlarge',
    labels: options.labels ?? {},
  };
  const events: SimDeploymentEvent[] = [];
  let state: SimDeploymentState = null;
  let clock = options.requestedAt;
  const step = <T extends SimDeploymentCommand['type']>(type: T, data: DataOf<T>, by: Actor = SERVICE) => {
    const decided = decide(command(type, data as never, { now: new Date(clock).toISOString(), by }), state);
    if (decided instanceof DomainError) throw new Error(`lifecycle of ${options.id}: ${type} refused: ${decided.message}`);
    for (const e of decided) state = evolve(state, e);
    events.push(...decided);
    clock += stepMs;
  };
  const current = () => state as NonNullable<SimDeploymentState>;
  const recordInstances = () => {
    for (const node of current().nodes) {
      step('RecordInstance', { role: node.role, index: node.index, instanceId: `i-${options.id.slice(0, 8)}-${node.role}-${node.index}`, nodeName: `ip-${node.role}-${node.index}` });
    }
  };

  step('RequestLaunch', { deploymentId: options.id, owner: owner.subject, ...(options.team ? { team: options.team } : {}), spec, provider: 'aws' }, owner);
  const outcome = options.outcome ?? 'finished';
  if (outcome === 'rejected') {
    step('RejectLaunch', { reason: 'quota: at most 10 running simulations' });
    return events;
  }
  step('StartLaunchingNodes', {});
  recordInstances();
  if (outcome === 'rolled-back' || outcome === 'admin-review') {
    step('RecordFailure', { source: 'worker', stage: Status.LaunchingNodes, step: 'waitNodesReady', error: FAULT, attempt: 3 });
    step('StartDeletingNodes', {});
    if (outcome === 'admin-review') {
      step('RecordFailure', { source: 'error-handler', stage: Status.DeletingNodes, step: 'deleteNodes', error: FAULT, attempt: 5 });
      return events;
    }
    step('StartTerminatingInstances', {});
    step('MarkTerminated', {});
    return events;
  }
  step('StartLaunchingPods', {});
  step('RecordWorkloadCreated', {});
  if (outcome === 'waiting') {
    step('ReportWaiting', { stage: Status.LaunchingPods, step: 'waitPodsReady', code: 'ImagePullBackOff', message: 'pulling robot:1 backs off' });
    return events;
  }
  step('MarkRunning', {});
  if (outcome === 'running') return events;
  step('RequestStop', { reason: 'user' }, owner);
  step('StartDeletingPods', {});
  step('StartDeletingNodes', {});
  step('StartTerminatingInstances', {});
  step('MarkTerminated', {});
  return events;
}
