import {
  DomainError,
  decide,
  fold,
  next,
  react,
  type Action,
  type CommandIntent,
  type Observation,
  type ProcessSettings,
  type ProviderCall,
  type SimDeploymentCommand,
  type SimDeploymentEvent,
  type Watch,
} from '../index';

/**
 * Specifications of the deployment decider and the process decider, read as given/when/then:
 *
 *   given(history.launchingPods()).when(markRunning).then([{ type: 'SimulationRunning', ... }])
 *   given(history.running()).when(launch).thenRefuses(IllegalTransitionError)
 *   given(history.launchingPods()).at(now).next().calls('createWorkload')
 *   given(history.launchingPods()).at(now).after(call, { ok: true, value: ready }).issues('MarkRunning')
 */

export const SPEC_SETTINGS: ProcessSettings = {
  nodeReadyTimeoutMs: 300_000,
  podReadyTimeoutMs: 300_000,
  deletionTimeoutMs: 300_000,
  pollIntervalMs: 1_000,
  healthRecheckMs: 300_000,
  queueRecheckMs: 300_000,
  capacityRetryMs: 15_000,
};

type ErrorClass = abstract new (...args: never[]) => DomainError;

export interface CommandSpecification {
  /** The command appends exactly these events (compared as a whole, with `toEqual`). */
  then(expected: readonly SimDeploymentEvent[] | ((events: SimDeploymentEvent[]) => void)): void;
  /** The command is refused with this typed error (and, optionally, a message matching). */
  thenRefuses(error: ErrorClass, message?: RegExp): void;
  /** The command is accepted and adds nothing: it was already done, or is stale. */
  thenNothing(): void;
}

/** Expectations on the one action the process decider chose. */
export class ActionExpectation {
  constructor(readonly action: Action) {}

  /** A provider call, and (when given) its arguments. */
  calls<O extends ProviderCall['operation']>(operation: O, args?: Omit<Extract<ProviderCall, { operation: O }>, 'operation'>): this {
    expect(this.action).toEqual({ type: 'call', call: { operation, ...(args ?? this.argsOf()) } });
    return this;
  }

  /** A domain command, and (when given) its data. */
  issues<T extends CommandIntent['type']>(type: T, data?: Extract<CommandIntent, { type: T }>['data']): this {
    expect(this.action).toMatchObject({ type: 'command', command: { type } });
    if (data !== undefined) expect((this.action as Extract<Action, { type: 'command' }>).command.data).toEqual(data);
    return this;
  }

  /** A wait until this time, watched by a batched check or not. */
  waitsUntil(until: string, watch?: Watch): this {
    expect(this.action).toMatchObject({ type: 'wait', until });
    expect((this.action as Extract<Action, { type: 'wait' }>).watch).toBe(watch);
    return this;
  }

  doesNothing(): this {
    expect(this.action).toEqual({ type: 'none' });
    return this;
  }

  /** The command's data, for a closer look. */
  get command(): CommandIntent {
    if (this.action.type !== 'command') throw new Error(`expected a command, got ${JSON.stringify(this.action)}`);
    return this.action.command;
  }

  private argsOf(): object {
    if (this.action.type !== 'call') return {};
    const { operation: _operation, ...args } = this.action.call;
    return args;
  }
}

export interface ProcessSpecification {
  /** What the process decider does next in the state the events fold to. */
  next(): ActionExpectation;
  /** What it does once a provider call answered. */
  after(call: ProviderCall, outcome: Observation['outcome']): ActionExpectation;
}

export function given(events: readonly SimDeploymentEvent[], settings: ProcessSettings = SPEC_SETTINGS) {
  const state = fold(events);
  return {
    when(command: SimDeploymentCommand): CommandSpecification {
      const decision = () => decide(command, state);
      return {
        then(expected) {
          const result = decision();
          if (result instanceof DomainError) throw new Error(`${command.type} was refused: ${result.message}`);
          if (typeof expected === 'function') expected(result);
          else expect(result).toEqual(expected);
        },
        thenRefuses(error, message) {
          const result = decision();
          expect(result).toBeInstanceOf(error);
          if (message) expect((result as DomainError).message).toMatch(message);
        },
        thenNothing() {
          expect(decision()).toEqual([]);
        },
      };
    },
    at(now: string): ProcessSpecification {
      const ctx = { now: Date.parse(now), settings };
      return {
        next: () => new ActionExpectation(next(state, ctx)),
        after(call, outcome) {
          if (state === null) throw new Error('after(): the events fold to no deployment');
          return new ActionExpectation(react(state, { call, outcome } as Observation, ctx));
        },
      };
    },
  };
}
