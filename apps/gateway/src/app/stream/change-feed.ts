import { Logger } from '@nestjs/common';
import { SimDeployment } from '@simdeploy/domain';
import { EventStore, EventSubscription, Position, RecordedEvent } from '@simdeploy/event-store';
import { toView } from '@simdeploy/read-model';
import { DeploymentHistories } from './deployment-histories';

/** One event and the deployment it left, as the stream sends it. */
export interface Change {
  event: RecordedEvent;
  /** The deployment after the event; null when the stream holds no deployment. */
  state: SimDeployment | null;
  /** The SSE data line, built once for every client that receives it. */
  payload: string | null;
}

export interface ChangeListener {
  change(change: Change): void;
  /** The feed stopped (the store failed): the listener must end, its client resumes with Last-Event-ID. */
  ended(error: unknown): void;
}

export interface FeedRegistration {
  /**
   * The position of the last change handed out before this listener joined: every later
   * one reaches it, in order. Null when the feed has seen nothing since it (re)started.
   */
  position: Position | null;
  leave(): void;
}

/** The message body of one change: what the dashboard needs without asking again. */
export const changePayload = (event: RecordedEvent, state: SimDeployment): string =>
  JSON.stringify({
    position: event.position,
    deploymentId: event.streamId,
    revision: event.revision,
    event: { type: event.type, data: event.data, recordedAt: event.recordedAt },
    view: toView(state),
  });

const RESTART_DELAY_MS = 1_000;

/**
 * One store subscription per gateway, shared by every stream client: each event is read
 * and folded once, then handed to every listener in store order. It follows the store from
 * the gateway's start (so "from now" means now for the first client too) and folds nothing
 * while nobody listens. If the store fails it, every listener is ended (their clients
 * resume with Last-Event-ID) and it starts again at the store's end.
 */
export class ChangeFeed {
  private readonly logger = new Logger('stream');
  private readonly listeners = new Set<ChangeListener>();
  private subscription: EventSubscription | null = null;
  private position: Position | null = null;
  private restart: NodeJS.Timeout | null = null;
  private stopped = false;

  constructor(
    private readonly store: EventStore,
    private readonly histories: DeploymentHistories,
  ) {}

  start(): void {
    this.stopped = false;
    const subscription = this.store.subscribeToAll({ from: 'end' });
    this.subscription = subscription;
    this.position = null;
    void this.follow(subscription);
  }

  join(listener: ChangeListener): FeedRegistration {
    this.listeners.add(listener);
    return { position: this.position, leave: () => this.listeners.delete(listener) };
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.restart) clearTimeout(this.restart);
    const subscription = this.subscription;
    this.subscription = null;
    await subscription?.close().catch(() => undefined);
  }

  private async follow(subscription: EventSubscription): Promise<void> {
    try {
      for await (const event of subscription) {
        // Nobody listens: nothing to fold, and no await, so no one can join before the position moves.
        if (this.listeners.size === 0) {
          this.position = event.position;
          continue;
        }
        const state = await this.histories.stateAfter(event);
        if (this.subscription !== subscription) return;
        this.position = event.position;
        const change: Change = { event, state, payload: state ? changePayload(event, state) : null };
        for (const listener of [...this.listeners]) {
          try {
            listener.change(change);
          } catch (error) {
            listener.ended(error);
          }
        }
      }
      // Only closing ends a subscription; anything else means the store went away.
      if (this.subscription === subscription) this.fail(subscription, new Error('the event subscription ended'));
    } catch (error) {
      if (this.subscription === subscription) this.fail(subscription, error);
    }
  }

  private fail(subscription: EventSubscription, error: unknown): void {
    this.logger.warn(`the change feed stopped, starting again: ${error instanceof Error ? error.message : String(error)}`);
    this.subscription = null;
    this.position = null;
    void subscription.close().catch(() => undefined);
    const listeners = [...this.listeners];
    this.listeners.clear();
    for (const listener of listeners) listener.ended(error);
    if (!this.stopped) this.restart = setTimeout(() => this.start(), RESTART_DELAY_MS);
  }
}
