/** One dispatched block of an event stream. A block with an id and no data only moves the Last-Event-ID. */
export interface SseBlock {
  /** The id field of this block, if it had one ('' resets the last event id). */
  id: string | null;
  event: string;
  /** null when the block had no data field: nothing to deliver. */
  data: string | null;
  retry: number | null;
}

/**
 * Parses text/event-stream as the HTML standard describes it: lines end in CR, LF or CRLF;
 * a blank line dispatches; lines starting with ':' are comments. Fed with chunks as they arrive.
 */
export class SseParser {
  private buffer = '';
  private pendingCR = false;
  private block = SseParser.empty();

  private static empty() {
    return { id: null as string | null, event: '', data: [] as string[], hasData: false, retry: null as number | null, hasFields: false };
  }

  push(chunk: string): SseBlock[] {
    const out: SseBlock[] = [];
    let text = chunk;
    // A CR at the end of the last chunk may be the first half of a CRLF.
    if (this.pendingCR && text.startsWith('\n')) text = text.slice(1);
    this.pendingCR = false;
    this.buffer += text;
    for (;;) {
      const match = /\r\n|\r|\n/.exec(this.buffer);
      if (!match) break;
      if (match[0] === '\r' && match.index === this.buffer.length - 1) this.pendingCR = true;
      const line = this.buffer.slice(0, match.index);
      this.buffer = this.buffer.slice(match.index + match[0].length);
      const block = this.line(line);
      if (block) out.push(block);
    }
    return out;
  }

  private line(line: string): SseBlock | null {
    if (line === '') {
      const b = this.block;
      this.block = SseParser.empty();
      if (!b.hasFields) return null;
      return { id: b.id, event: b.event || 'message', data: b.hasData ? b.data.join('\n') : null, retry: b.retry };
    }
    if (line.startsWith(':')) return null;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    this.block.hasFields = true;
    if (field === 'id' && !value.includes('\0')) this.block.id = value;
    else if (field === 'event') this.block.event = value;
    else if (field === 'data') {
      this.block.data.push(value);
      this.block.hasData = true;
    } else if (field === 'retry' && /^\d+$/.test(value)) this.block.retry = Number(value);
    return null;
  }
}
