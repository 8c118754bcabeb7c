import { request } from 'node:http';

/** A test's view of one SSE connection: the messages and comments as they arrive. */
export interface SseMessage {
  id: string | null;
  event: string;
  data: string;
}

export interface SseConnection {
  status: number;
  contentType: string;
  messages: SseMessage[];
  comments: string[];
  /** Ids set by blocks without data (heartbeats moving the cursor). */
  bareIds: string[];
  /** The last id the stream set, as a browser's EventSource would resend it. */
  lastEventId: string | null;
  /** Resolves when the server ends or cuts the stream. */
  ended: Promise<'ended' | 'reset'>;
  /** The JSON body of a refused request. */
  errorBody: any;
  close(): void;
}

/**
 * Opens GET <url> and parses the event stream as the HTML spec says (fields, comments,
 * blank-line dispatch). On node:http rather than fetch, so that close() really closes the
 * socket: fetch's pool may keep a spare connection open that the server then waits for.
 */
export function openSse(url: string, headers: Record<string, string> = {}): Promise<SseConnection> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers: { accept: 'text/event-stream', ...headers }, agent: false });
    let closedByUs = false;
    req.on('error', (error) => reject(error));
    req.on('response', (response) => {
      let endedAs: (how: 'ended' | 'reset') => void = () => undefined;
      const connection: SseConnection = {
        status: response.statusCode ?? 0,
        contentType: String(response.headers['content-type'] ?? ''),
        messages: [],
        comments: [],
        bareIds: [],
        lastEventId: null,
        ended: new Promise((done) => (endedAs = done)),
        errorBody: undefined,
        close: () => {
          closedByUs = true;
          req.destroy();
        },
      };
      response.setEncoding('utf8');
      if (connection.status !== 200) {
        let text = '';
        response.on('data', (chunk: string) => (text += chunk));
        response.on('end', () => {
          try {
            connection.errorBody = JSON.parse(text);
          } catch {
            connection.errorBody = text;
          }
          endedAs('ended');
          resolve(connection);
        });
        return;
      }
      let buffer = '';
      let block: { id: string | null; event: string; data: string[] } = { id: null, event: 'message', data: [] };
      response.on('data', (chunk: string) => {
        buffer += chunk;
        let newline: number;
        while ((newline = buffer.indexOf('\n')) >= 0) {
          const line = buffer.slice(0, newline);
          buffer = buffer.slice(newline + 1);
          if (line === '') {
            if (block.id !== null) connection.lastEventId = block.id;
            if (block.data.length > 0) connection.messages.push({ id: block.id, event: block.event, data: block.data.join('\n') });
            else if (block.id !== null) connection.bareIds.push(block.id);
            block = { id: null, event: 'message', data: [] };
          } else if (line.startsWith(':')) {
            connection.comments.push(line.slice(1).trim());
          } else {
            const colon = line.indexOf(':');
            const field = colon < 0 ? line : line.slice(0, colon);
            const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
            if (field === 'id') block.id = value;
            else if (field === 'event') block.event = value;
            else if (field === 'data') block.data.push(value);
          }
        }
      });
      response.on('end', () => endedAs('ended'));
      response.on('close', () => endedAs(closedByUs || response.complete ? 'ended' : 'reset'));
      resolve(connection);
    });
    req.end();
  });
}

/** The `change` messages' bodies. */
export const changes = (connection: SseConnection): any[] =>
  connection.messages.filter((m) => m.event === 'change').map((m) => ({ ...JSON.parse(m.data), sseId: m.id }));

export interface SseFollower {
  /** Every connection so far; a cut one is followed by the next, resumed with its Last-Event-ID. */
  connections: SseConnection[];
  changes(): any[];
  close(): void;
}

/** A client that behaves like a browser's EventSource: when the stream is cut it reconnects with Last-Event-ID. */
export async function followSse(url: string, headers: Record<string, string>): Promise<SseFollower> {
  let closed = false;
  const follower: SseFollower = {
    connections: [],
    changes: () => follower.connections.flatMap((c) => changes(c)),
    close: () => {
      closed = true;
      follower.connections.at(-1)?.close();
    },
  };
  let lastEventId: string | null = null;
  const connect = async (): Promise<void> => {
    const connection = await openSse(url, lastEventId === null ? headers : { ...headers, 'last-event-id': lastEventId });
    follower.connections.push(connection);
    void connection.ended.then(() => {
      lastEventId = connection.lastEventId ?? lastEventId;
      if (!closed) void connect();
    });
  };
  await connect();
  return follower;
}
