import { SseParser } from './sse-parser';

describe('SseParser', () => {
  it('dispatches a block at the blank line, with its id, event name and data', () => {
    const parser = new SseParser();
    expect(parser.push('id: 42\nevent: change\ndata: {"a":1}\n\n')).toEqual([{ id: '42', event: 'change', data: '{"a":1}', retry: null }]);
  });

  it('joins data lines, ignores comments, and keeps a block split across chunks', () => {
    const parser = new SseParser();
    expect(parser.push(': keep-alive\n\ndata: one\nda')).toEqual([]);
    expect(parser.push('ta: two\n')).toEqual([]);
    expect(parser.push('\n')).toEqual([{ id: null, event: 'message', data: 'one\ntwo', retry: null }]);
  });

  it('reports a block with an id and no data, which only moves the Last-Event-ID', () => {
    expect(new SseParser().push(': keep-alive\nid: 7\n\n')).toEqual([{ id: '7', event: 'message', data: null, retry: null }]);
  });

  it('reads CRLF and CR line ends, a CRLF split between chunks included, and the retry field', () => {
    const parser = new SseParser();
    expect(parser.push('retry: 2000\r')).toEqual([]);
    expect(parser.push('\nevent: ready\rdata: {}\r\n\r\n')).toEqual([{ id: null, event: 'ready', data: '{}', retry: 2000 }]);
  });
});
