import { next, workOwner, type SimDeploymentState, type WorkOwner } from '@simdeploy/domain';
import { CommandBus, CommandKind, CommandScheduler } from '@simdeploy/messaging';
import { Clock } from './settings';

export const KIND_OF: Record<WorkOwner, CommandKind> = {
  launcher: CommandKind.Launch,
  terminator: CommandKind.Terminate,
  'error-handler': CommandKind.HandleFailure,
};

/**
 * The one message-id scheme for lifecycle commands: the deployment, the kind and the stream
 * revision the command was decided on. Whoever sends it for the same state (the service that
 * appended, the reconciler repairing a lost send) sends the same id, so it is stored once.
 */
export const commandMessageId = (deploymentId: string, kind: CommandKind, revision: string): string =>
  `${deploymentId}:${kind}:${revision}`;

/** The command kind the deployment's state calls for now, or null when nothing is due. */
export function dueCommand(state: SimDeploymentState, nowMs: number): CommandKind | null {
  const owner = workOwner(state);
  if (owner === null || next(state, { now: nowMs }).type === 'none') return null;
  return KIND_OF[owner];
}

/**
 * After every successful append, anywhere (gateway, workers, admin actions, reconciler), the
 * command the new state calls for is sent from here, and nowhere else.
 */
export interface DispatchOptions {
  /** Why it is sent, for the logs: `api`, `step`, `reconciler`... */
  reason: string;
  correlationId?: string;
  /** The state the append started from: when it was another service's, that service's timer is dropped. */
  before?: SimDeploymentState;
}

export class Dispatcher {
  constructor(
    private readonly bus: CommandBus,
    private readonly scheduler: CommandScheduler,
    private readonly clock: Clock,
  ) {}

  /** Wakes launches an admission ledger just let in: each gets its launch command, once per ledger revision. */
  async wakeAdmitted(deploymentIds: readonly string[], ledger: string, revision: string): Promise<void> {
    const issuedAt = this.clock.now().toISOString();
    await Promise.all(
      deploymentIds.map((deploymentId) =>
        this.bus.send(
          { deploymentId, kind: CommandKind.Launch, issuedAt, reason: 'admitted' },
          { messageId: `${deploymentId}:${CommandKind.Launch}:admitted:${ledger}:${revision}` },
        ),
      ),
    );
  }

  /** Sends the command the state calls for, if any; answers its kind. */
  async dispatch(state: SimDeploymentState, revision: string | null, options: DispatchOptions): Promise<CommandKind | null> {
    if (state === null || revision === null) return null;
    const { reason, correlationId, before } = options;
    const previous = before ? workOwner(before) : null;
    // A stop while the launcher waited for machines, say: its timer (and any watching of it) ends now.
    if (previous !== null && previous !== workOwner(state)) await this.scheduler.cancel(KIND_OF[previous], state.id);
    const now = this.clock.now();
    const kind = dueCommand(state, now.getTime());
    if (kind === null) return null;
    await this.bus.send(
      { deploymentId: state.id, kind, issuedAt: now.toISOString(), reason, ...(correlationId ? { correlationId } : {}) },
      { messageId: commandMessageId(state.id, kind, revision) },
    );
    return kind;
  }
}
