import { Logger } from '@nestjs/common';
import { SimDeployment } from '@simdeploy/domain';
import { EventStore, EventSubscription, Position, comparePositions } from '@simdeploy/event-store';
import { Change, ChangeFeed, ChangeListener, FeedRegistration, changePayload } from './change-feed';
import { DeploymentHistories } from './deployment-histories';

/** What the client is written to: Node's ServerResponse under Fastify's reply. */
export interface SseResponse {
  write(chunk: string): boolean;
  end(): void;
  destroy(): void;
  readonly writableLength: number;
  once(event: 'drain' | 'close', listener: () => void): unknown;
  removeListener(event: 'drain' | 'close', listener: () => void): unknown;
}

export interface StreamClientOptions {
  heartbeatMs: number;
  /** What may wait to be sent (in the socket's buffer and held during a catch-up) before the client is dropped. */
  bufferBytes: number;
  /** How long a browser waits before it reconnects, told in the stream's first line. */
  retryMs: number;
}

export type CloseReason = 'client-gone' | 'slow' | 'feed-ended' | 'shutdown';

const message = (position: Position, payload: string): string => `id: ${position}\nevent: change\ndata: ${payload}\n\n`;

/**
 * One SSE client. Every change after `cursor` is handled exactly once and in store order:
 * sent when the client may see it, skipped otherwise. A client resuming from Last-Event-ID
 * first reads the store from there with a subscription of its own while the shared feed's
 * changes wait in `held`; once the catch-up reaches a change the feed has delivered, the
 * catch-up closes and the held changes follow, so nothing is lost or sent twice.
 */
export class StreamClient implements ChangeListener {
  private readonly logger = new Logger('stream');
  private cursor: Position | null;
  /** The last id the client was told; a heartbeat moves it past changes it was not shown. */
  private toldId: Position | null;
  private catchingUp: boolean;
  private held: Change[] = [];
  private heldBytes = 0;
  private catchUp: EventSubscription | null = null;
  private registration: FeedRegistration | null = null;
  private heartbeat: NodeJS.Timeout | null = null;
  private closed = false;

  constructor(
    private readonly response: SseResponse,
    private readonly feed: Pick<ChangeFeed, 'join'>,
    private readonly store: EventStore,
    private readonly histories: DeploymentHistories,
    private readonly visible: (state: SimDeployment) => boolean,
    private readonly options: StreamClientOptions,
    lastEventId: Position | null,
    private readonly onClose: (client: StreamClient, reason: CloseReason) => void,
  ) {
    this.cursor = lastEventId;
    this.toldId = lastEventId;
    this.catchingUp = lastEventId !== null;
  }

  start(): void {
    this.response.once('close', () => this.close('client-gone'));
    this.registration = this.feed.join(this);
    if (this.catchingUp) {
      this.write(`retry: ${this.options.retryMs}\nevent: ready\ndata: ${JSON.stringify({ position: this.cursor, resumed: true })}\n\n`);
      void this.runCatchUp();
    } else {
      // Everything after the feed's position reaches this client: that is where it resumes.
      this.cursor = this.registration.position;
      this.toldId = this.cursor;
      const id = this.cursor === null ? '' : `id: ${this.cursor}\n`;
      this.write(`retry: ${this.options.retryMs}\n${id}event: ready\ndata: ${JSON.stringify({ position: this.cursor, resumed: false })}\n\n`);
    }
    this.heartbeat = setInterval(() => this.beat(), this.options.heartbeatMs);
  }

  change(change: Change): void {
    if (this.closed) return;
    if (!this.catchingUp) {
      this.handle(change);
      return;
    }
    if (this.cursor !== null && comparePositions(change.event.position, this.cursor) <= 0) {
      // The catch-up has passed the feed: every later change comes from the feed.
      this.goLive();
      return;
    }
    this.held.push(change);
    this.heldBytes += change.payload?.length ?? 0;
    this.checkBuffer();
  }

  ended(): void {
    this.close('feed-ended');
  }

  close(reason: CloseReason): void {
    if (this.closed) return;
    this.closed = true;
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.registration?.leave();
    void this.catchUp?.close().catch(() => undefined);
    this.held = [];
    if (reason === 'slow') {
      // What sits in the buffer may never drain: cut the connection. The client keeps the id
      // of the last whole message it read and resumes from there.
      this.response.destroy();
    } else if (reason !== 'client-gone') {
      this.response.end();
    }
    this.onClose(this, reason);
  }

  private async runCatchUp(): Promise<void> {
    const subscription = this.store.subscribeToAll({ from: { after: this.cursor as Position } });
    this.catchUp = subscription;
    const highWater = Math.min(64 * 1024, Math.floor(this.options.bufferBytes / 2));
    try {
      for await (const event of subscription) {
        if (!this.catchingUp || this.closed) break;
        const state = await this.histories.stateAfter(event);
        if (!this.catchingUp || this.closed) break;
        this.handle({ event, state, payload: state ? changePayload(event, state) : null });
        const first = this.held[0];
        if (first && this.cursor !== null && comparePositions(first.event.position, this.cursor) <= 0) {
          this.goLive();
          break;
        }
        // A replay goes at the client's pace; only the live changes held meanwhile are bounded.
        if (this.response.writableLength > highWater) await this.drained();
      }
    } catch (error) {
      if (this.closed || !this.catchingUp) return;
      this.logger.warn(`a stream client's catch-up failed: ${error instanceof Error ? error.message : String(error)}`);
      this.close('feed-ended');
    }
  }

  private goLive(): void {
    this.catchingUp = false;
    void this.catchUp?.close().catch(() => undefined);
    this.catchUp = null;
    const held = this.held;
    this.held = [];
    this.heldBytes = 0;
    for (const change of held) {
      if (this.closed) return;
      this.handle(change);
    }
  }

  private handle(change: Change): void {
    const { position } = change.event;
    if (this.cursor !== null && comparePositions(position, this.cursor) <= 0) return;
    this.cursor = position;
    if (change.state && change.payload !== null && this.visible(change.state)) {
      this.write(message(position, change.payload));
      this.toldId = position;
    }
    this.checkBuffer();
  }

  private beat(): void {
    if (this.closed) return;
    const moved = this.cursor !== null && this.cursor !== this.toldId;
    // An id without data moves the client's Last-Event-ID past changes it was not shown,
    // so a reconnect does not read them again.
    this.write(moved ? `: keep-alive\nid: ${this.cursor}\n\n` : ': keep-alive\n\n');
    if (moved) this.toldId = this.cursor;
    this.checkBuffer();
  }

  private write(chunk: string): void {
    if (!this.closed) this.response.write(chunk);
  }

  private checkBuffer(): void {
    if (!this.closed && this.response.writableLength + this.heldBytes > this.options.bufferBytes) this.close('slow');
  }

  private drained(): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        this.response.removeListener('drain', done);
        this.response.removeListener('close', done);
        resolve();
      };
      this.response.once('drain', done);
      this.response.once('close', done);
    });
  }
}
