import { Logger } from '@nestjs/common';
import {
  DomainError,
  command,
  isFactCommand,
  next,
  react,
  workOwner,
  type Action,
  type Actor,
  type CommandIntent,
  type SimDeployment,
  type SimDeploymentEvent,
  type SimDeploymentState,
  type WorkOwner,
} from '@simdeploy/domain';
import type { EventMetadata } from '@simdeploy/event-store';
import { CommandScheduler, type CommandOutcome, type TimerWatch } from '@simdeploy/messaging';
import { currentContext, formatTraceparent, lifecycleMetrics } from '@simdeploy/telemetry';
import type { AdmissionLedgers } from './admission-ledgers';
import { DeploymentCommandHandler, type LoadedDeployment } from './command-handler';
import { Dispatcher, KIND_OF } from './dispatcher';
import { machinesOf, observe } from './provider-calls';
import { ProviderRegistry } from './providers';
import { Clock, LifecycleSettings, serviceActor } from './settings';

/** Enough for Pending -> Running in one delivery when nothing has to be waited for. */
const MAX_STEPS_PER_DELIVERY = 16;

const DONE: CommandOutcome = { done: true };

/** How often each outcome happened: what a benchmark or a test counts. */
export interface InterpreterCounters {
  stateReads: number;
  providerCalls: number;
  appends: number;
  conflicts: number;
  waits: number;
}

/**
 * Runs the process decider for one service (launcher, terminator or error handler): takes
 * the action it chooses, calls the provider through the one retry wrapper, feeds the answer
 * back, appends the resulting command with the expected revision, and goes on from the
 * state the append returned, until the deployment waits, is another service's, or is done.
 * A wait becomes a timer, never a held message or a sleep. After an append that hands the
 * deployment to another service, the dispatcher tells that service.
 */
export class Interpreter {
  private readonly logger: Logger;
  readonly counters: InterpreterCounters = { stateReads: 0, providerCalls: 0, appends: 0, conflicts: 0, waits: 0 };

  constructor(
    readonly owner: WorkOwner,
    private readonly handler: DeploymentCommandHandler,
    private readonly providers: ProviderRegistry,
    private readonly settings: LifecycleSettings,
    private readonly clock: Clock,
    private readonly dispatcher: Dispatcher,
    private readonly scheduler: CommandScheduler,
    private readonly ledgers?: AdmissionLedgers,
    private readonly actor: Actor = serviceActor(owner),
  ) {
    this.logger = new Logger(`Interpreter(${owner})`);
  }

  async run(deploymentId: string, correlationId?: string): Promise<CommandOutcome> {
    let loaded = await this.load(deploymentId);
    for (let step = 0; step < MAX_STEPS_PER_DELIVERY; step++) {
      const state = loaded.state;
      if (state === null || workOwner(state) !== this.owner) return DONE;
      const action = await this.decide(state);
      if (action.type === 'none') return DONE;
      if (action.type === 'wait') {
        await this.schedule(state, loaded, action);
        return DONE;
      }
      const result = await this.append(deploymentId, loaded, action.command, correlationId);
      if (result === 'conflict' || result instanceof DomainError) {
        // The stream moved while this step looked at it: look again at what it is now.
        if (result instanceof DomainError) this.logger.warn(`${deploymentId}: ${action.command.type} refused: ${result.message}`);
        loaded = await this.load(deploymentId);
        continue;
      }
      loaded = { state: result.state, revision: result.revision };
      observeLifecycle(result.state, result.events);
      if (result.events.length > 0 && workOwner(result.state) !== this.owner) {
        await this.dispatcher.dispatch(result.state, result.revision, { reason: 'step', before: result.before, ...(correlationId ? { correlationId } : {}) });
      }
    }
    // Many steps in one delivery: give the slot back, carry on at the next delivery.
    return { retryAfterMs: 0 };
  }

  /** The decider's next action, after any provider calls it asks for and their answers. */
  private async decide(state: SimDeployment): Promise<Exclude<Action, { type: 'call' }>> {
    let action = next(state, { now: this.now() });
    while (action.type === 'call') {
      this.counters.providerCalls += 1;
      const observation = await observe(
        this.providers.get(state.provider),
        { archive: this.providers.archive, ...(this.ledgers ? { ledgers: this.ledgers } : {}) },
        state,
        action.call,
        this.settings.retry,
      );
      action = react(state, observation, { now: this.now(), settings: this.settings });
    }
    return action;
  }

  private async append(deploymentId: string, loaded: LoadedDeployment, intent: CommandIntent, correlationId?: string) {
    const cmd = command(intent.type, intent.data as never, { now: this.clock.now().toISOString(), by: this.actor });
    const metadata: EventMetadata = { causationId: this.actor.subject, ...(correlationId ? { correlationId } : {}) };
    this.counters.appends += 1;
    // A fact stands whatever happened meanwhile; a decision is only good for the state it was taken on.
    const result = isFactCommand(intent.type)
      ? await this.handler.handle(deploymentId, cmd, metadata)
      : await this.handler.decideOn(deploymentId, loaded, cmd, metadata);
    if (result === 'conflict') this.counters.conflicts += 1;
    return result;
  }

  private async schedule(state: SimDeployment, loaded: LoadedDeployment, wait: Extract<Action, { type: 'wait' }>): Promise<void> {
    this.counters.waits += 1;
    const { trace, correlationId } = currentContext();
    await this.scheduler.schedule({
      deploymentId: state.id,
      kind: KIND_OF[this.owner],
      revision: loaded.revision ?? '0',
      dueAt: wait.until,
      ...(wait.watch ? { watch: watchOf(state, wait.watch, wait.knownReason) } : {}),
      // The command the timer fires continues this trace.
      ...(trace ? { traceparent: formatTraceparent(trace) } : {}),
      ...(correlationId ? { correlationId } : {}),
    });
  }

  private async load(deploymentId: string): Promise<LoadedDeployment> {
    this.counters.stateReads += 1;
    return this.handler.load(deploymentId);
  }

  private now(): number {
    return this.clock.now().getTime();
  }
}

/**
 * How long the launch or the termination took, from the events' own timestamps: the time
 * the request was recorded to the time the deployment was recorded Running (or Terminated),
 * whichever replicas, restarts and waits lay between.
 */
function observeLifecycle(state: SimDeploymentState, events: readonly SimDeploymentEvent[]): void {
  if (state === null) return;
  for (const event of events) {
    if (event.type === 'SimulationRunning') {
      lifecycleMetrics.launchDuration.observe({ provider: state.provider }, secondsBetween(state.requestedAt, event.data.at));
    } else if (event.type === 'SimulationTerminated' && state.stop) {
      lifecycleMetrics.terminationDuration.observe({ provider: state.provider }, secondsBetween(state.stop.at, event.data.at));
    }
  }
}

const secondsBetween = (from: string, to: string): number => Math.max(0, (Date.parse(to) - Date.parse(from)) / 1000);

/** What a readiness watcher needs to check the wait in batch, without reading the deployment. */
export interface ReadinessWatch extends TimerWatch {
  type: 'nodes' | 'workload' | 'health';
  provider: string;
  known?: string;
  nodes?: { instanceId: string; nodeName: string }[];
  pods?: SimDeployment['pods'];
}

function watchOf(state: SimDeployment, type: ReadinessWatch['type'], known?: string): ReadinessWatch {
  return {
    type,
    provider: state.provider,
    ...(known ? { known } : {}),
    ...(type === 'nodes' ? { nodes: machinesOf(state) } : { pods: [...state.pods] }),
  };
}
