import { SimDeployment, SimDeploymentEvent, SimDeploymentState, evolve, initialState, upcast } from '@simdeploy/domain';
import { EventStore, Position, RecordedEvent, StreamRevision, comparePositions } from '@simdeploy/event-store';

interface History {
  streamId: string;
  /** The stream's events as far as read, in order. */
  events: RecordedEvent[];
  revision: StreamRevision | null;
  /** The fold of the first `count` events: consecutive events fold one step each. */
  folded: { count: number; state: SimDeploymentState };
  /** A read in flight, shared by every caller that needs it. */
  reading?: Promise<void>;
}

const asDomainEvent = (recorded: RecordedEvent): SimDeploymentEvent | null => upcast(recorded);

const lastPosition = (history: History): Position | null => history.events[history.events.length - 1]?.position ?? null;

/**
 * The state of a deployment right after one of its events, for the live stream. The state
 * after an older event is not today's state (a client resuming from Last-Event-ID replays
 * the past), so each deployment's recent stream is kept and folded up to the event asked
 * about; the newest fold is remembered, so a live feed folds one event per change.
 * Streams are few events long; the least recently used ones are forgotten past `capacity`.
 */
export class DeploymentHistories {
  private readonly histories = new Map<string, History>();

  constructor(
    private readonly store: EventStore,
    private readonly capacity = 2_000,
  ) {}

  /** The deployment after `event`; null when the stream holds no deployment (the sweep's own stream, say). */
  async stateAfter(event: RecordedEvent): Promise<SimDeployment | null> {
    const history = await this.readUpTo(event);
    let index = -1;
    for (let i = history.events.length - 1; i >= 0; i--) {
      if (comparePositions(history.events[i].position, event.position) <= 0) {
        index = i;
        break;
      }
    }
    const count = index + 1;
    let { state, count: from } = history.folded;
    if (from > count) {
      state = initialState();
      from = 0;
    }
    for (let i = from; i < count; i++) {
      const domainEvent = asDomainEvent(history.events[i]);
      if (domainEvent) state = evolve(state, domainEvent);
    }
    if (count >= history.folded.count) history.folded = { count, state };
    return state;
  }

  private async readUpTo(event: RecordedEvent): Promise<History> {
    let history = this.histories.get(event.streamId);
    if (!history) {
      history = { streamId: event.streamId, events: [], revision: null, folded: { count: 0, state: initialState() } };
    }
    this.touch(event.streamId, history);
    while (this.behind(history, event.position)) {
      history.reading ??= this.catchUp(history).finally(() => {
        if (history) history.reading = undefined;
      });
      const revisionBefore = history.revision;
      await history.reading;
      // The store answered with nothing newer: the event is the newest there is, or gone.
      if (history.revision === revisionBefore) break;
    }
    return history;
  }

  private behind(history: History, position: Position): boolean {
    const last = lastPosition(history);
    return last === null || comparePositions(last, position) < 0;
  }

  private async catchUp(history: History): Promise<void> {
    const read = await this.store.readStream(history.streamId, history.revision === null ? undefined : { after: history.revision });
    const last = lastPosition(history);
    history.events.push(...read.events.filter((e) => last === null || comparePositions(e.position, last) > 0));
    if (read.revision !== null) history.revision = read.revision;
  }

  private touch(streamId: string, history: History): void {
    this.histories.delete(streamId);
    this.histories.set(streamId, history);
    if (this.histories.size > this.capacity) {
      const oldest = this.histories.keys().next().value;
      if (oldest !== undefined) this.histories.delete(oldest);
    }
  }
}
