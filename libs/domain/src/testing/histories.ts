import {
  DomainError,
  command,
  decide,
  fold,
  type Actor,
  type FailureDetail,
  type SimDeployment,
  type SimDeploymentCommand,
  type SimDeploymentEvent,
  type SimulationSpec,
  type Status,
} from '../index';

export const SPEC_ID = 'd6c1c2a0-1b2c-4d5e-8f90-a1b2c3d4e5f6';
export const SPEC_OWNER: Actor = { subject: 'alice', roles: [] };
export const SPEC_ADMIN: Actor = { subject: 'root', roles: ['admin'] };
export const SPEC_SERVICE: Actor = { subject: 'service:launcher', roles: ['service'] };
/** Every history starts here, and each step takes one second. */
export const T0 = '2026-11-28T00:00:00.000Z';

export const SPEC_SIMULATION: SimulationSpec = {
  world: 'warehouse.sdf',
  simulatorImage: 'gz:harmonic',
  robots: [{ name: 'x1', image: 'robot:1' }],
  nodeInstanceType: 'g4dn.xlarge',
  labels: { team: 'nav' },
};

type DataOf<T extends SimDeploymentCommand['type']> = Extract<SimDeploymentCommand, { type: T }>['data'];

export const PERMANENT_FAILURE: FailureDetail = { code: 'InjectedFault', message: 'injected', transient: false };

/**
 * A deployment's history built the way it happens: each step is a command decided on the
 * state so far, one second after the previous one, so the events are facts the decider
 * itself produced. `history().running().stopped().events`.
 */
export class History {
  private clock: number;

  private constructor(
    readonly events: readonly SimDeploymentEvent[],
    clock: number,
    readonly spec: SimulationSpec,
  ) {
    this.clock = clock;
  }

  static start(spec: Partial<SimulationSpec> = {}): History {
    return new History([], Date.parse(T0), { ...SPEC_SIMULATION, ...spec });
  }

  /** The time of the last step. */
  get now(): string {
    return new Date(this.clock).toISOString();
  }

  /** The time `ms` after the last step. */
  later(ms: number): string {
    return new Date(this.clock + ms).toISOString();
  }

  get state(): SimDeployment {
    const state = fold(this.events);
    if (state === null) throw new Error('the history has no deployment yet');
    return state;
  }

  /** Moves the clock without an event. */
  wait(ms: number): History {
    return new History(this.events, this.clock + ms, this.spec);
  }

  /** The command `do` would issue next, for a `given(...).when(...)` specification. */
  commandFor<T extends SimDeploymentCommand['type']>(type: T, data: DataOf<T>, by: Actor = SPEC_SERVICE): SimDeploymentCommand {
    return command(type, data as never, { now: new Date(this.clock + 1_000).toISOString(), by });
  }

  /** One more step; the test fails if the decider refuses it. */
  do<T extends SimDeploymentCommand['type']>(type: T, data: DataOf<T>, by: Actor = SPEC_SERVICE): History {
    const at = this.clock + (this.events.length === 0 ? 0 : 1_000);
    const cmd = command(type, data as never, { now: new Date(at).toISOString(), by });
    const decision = decide(cmd, fold(this.events));
    if (decision instanceof DomainError) throw new Error(`history step ${type} refused: ${decision.message}`);
    return new History([...this.events, ...decision], at, this.spec);
  }

  requested(provider = 'local'): History {
    return this.do('RequestLaunch', { deploymentId: SPEC_ID, owner: SPEC_OWNER.subject, spec: this.spec, provider }, SPEC_OWNER);
  }

  launchingNodes(): History {
    return this.requested().do('StartLaunchingNodes', {});
  }

  /** Waiting in an admission ledger's line. */
  queued(ledger = `quota:owner:${SPEC_OWNER.subject}`): History {
    return (this.events.length === 0 ? this.requested() : this).do('RecordQueued', { ledger });
  }

  /** Let go by the admission ledgers. */
  admitted(ledgers = [`quota:owner:${SPEC_OWNER.subject}`]): History {
    return (this.events.length === 0 ? this.requested() : this).do('RecordAdmitted', { ledgers });
  }

  /** Each planned node's instance, recorded. */
  instancesLaunched(): History {
    let h = this.events.length === 0 ? this.launchingNodes() : (this as History);
    for (const node of h.state.nodes.filter((n) => !n.instanceId)) {
      h = h.do('RecordInstance', { role: node.role, index: node.index, instanceId: `i-${node.role}-${node.index}`, nodeName: `node-${node.role}-${node.index}` });
    }
    return h;
  }

  launchingPods(): History {
    return this.instancesLaunched().do('StartLaunchingPods', {});
  }

  workloadCreated(): History {
    return (this.events.length === 0 ? this.launchingPods() : this).do('RecordWorkloadCreated', {});
  }

  running(): History {
    return this.workloadCreated().do('MarkRunning', {});
  }

  stopped(by: Actor = SPEC_OWNER): History {
    return (this.events.length === 0 ? this.running() : this).do('RequestStop', { reason: 'user' }, by);
  }

  deletingPods(): History {
    return this.stopped().do('StartDeletingPods', {});
  }

  /** The pods' logs, archived (the cleanup's first step while a workload is held). */
  logsArchived(location = `archive://${SPEC_ID}`): History {
    return this.do('RecordLogsArchived', { location, pods: this.state.pods.map((p) => p.name) });
  }

  deletingNodes(): History {
    return this.deletingPods().do('StartDeletingNodes', {});
  }

  terminatingInstances(): History {
    return this.deletingNodes().do('StartTerminatingInstances', {});
  }

  terminated(): History {
    return this.terminatingInstances().do('MarkTerminated', {});
  }

  /** A failed step at the current status, reported by a worker or (while it handles a failure) the error handler. */
  failed(step = 'step', error: FailureDetail = PERMANENT_FAILURE, source: 'worker' | 'error-handler' = 'worker'): History {
    return this.do('RecordFailure', { source, stage: this.state.status as Status, step, error, attempt: 1 });
  }
}

export const history = (spec: Partial<SimulationSpec> = {}): History => History.start(spec);
