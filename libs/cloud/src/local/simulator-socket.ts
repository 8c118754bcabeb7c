import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Readable, Writable } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import { lineReader } from './pod-host-protocol';

/** Close code for "the simulator is gone" (RFC 6455: the server met a condition it cannot go on with). */
export const SIMULATOR_GONE_CLOSE_CODE = 1011;
/** One message, the longest line a simulator is expected to read. */
const MAX_MESSAGE_BYTES = 1024 * 1024;

/**
 * The local stand-in for a simulator's network port: a WebSocket endpoint on 127.0.0.1 whose
 * messages go, one line each, to the simulator's stdin, and whose every stdout line goes back
 * to every connected client. The simulator process stays the one that answers; when it ends,
 * every connection is closed and the port stops listening. Plain HTTP gets a short description,
 * so the access proxy can be tested for both.
 */
export class StdioWebSocketBridge {
  private constructor(
    private readonly http: Server,
    private readonly sockets: WebSocketServer,
    readonly port: number,
  ) {}

  static async listen(podName: string): Promise<StdioWebSocketBridge> {
    const http = createServer((request, response) => {
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end(JSON.stringify({ pod: podName, websocket: `ws://${request.headers.host ?? '127.0.0.1'}/` }));
    });
    const sockets = new WebSocketServer({ server: http, maxPayload: MAX_MESSAGE_BYTES });
    await new Promise<void>((resolve, reject) => {
      http.once('error', reject);
      http.listen(0, '127.0.0.1', () => resolve());
    });
    return new StdioWebSocketBridge(http, sockets, (http.address() as AddressInfo).port);
  }

  /** Wires the pod's stdin and stdout; stdout also goes on to `copy` (the pod's log). */
  attach(stdin: Writable, stdout: Readable, copy: (chunk: Buffer) => void): void {
    stdin.on('error', () => undefined); // the pod exited: its exit closes the connections
    this.sockets.on('connection', (socket: WebSocket) => {
      socket.on('message', (data) => {
        const text = Buffer.isBuffer(data) ? data.toString('utf8') : Array.isArray(data) ? Buffer.concat(data).toString('utf8') : Buffer.from(data).toString('utf8');
        for (const line of text.split('\n')) if (line.length > 0) stdin.write(`${line}\n`);
      });
      socket.on('error', () => socket.terminate());
    });
    const send = lineReader((line) => {
      for (const client of this.sockets.clients) client.send(line);
    });
    stdout.on('data', (chunk: Buffer) => {
      copy(chunk);
      send(chunk);
    });
  }

  close(reason: string): void {
    for (const client of this.sockets.clients) {
      client.close(SIMULATOR_GONE_CLOSE_CODE, reason.slice(0, 120));
      // A client that does not answer the closing handshake is not waited for.
      setTimeout(() => client.terminate(), 1_000).unref();
    }
    this.sockets.close();
    this.http.close();
    this.http.closeAllConnections();
  }
}

/** A port nobody listens on right now, for a command that listens itself. */
export async function allocatePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}
