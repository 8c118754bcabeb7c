import type { RecordedEvent } from '@simdeploy/event-store';
import { createHash } from 'node:crypto';
import { eventRecord } from './format';

/**
 * An export is NDJSON: a manifest line, one line per event, a trailer line. Every line ends
 * with its own `hash`: the SHA-256 (hex) of the line's text with the `,"hash":"..."` member
 * taken out, so altering any byte of a line breaks it. Each event line and the trailer carry
 * `prev`, the hash of the line before (the manifest's, for the first event), so removing,
 * inserting or reordering lines breaks the chain; the trailer repeats the count and the
 * final event hash, so a cut-off file is told from a complete one.
 */
export const EXPORT_FORMAT = 'simdeploy-export/1';

export interface ExportFilters {
  deployment?: string;
  since?: string;
  until?: string;
}

export interface ExportManifest {
  kind: 'manifest';
  format: typeof EXPORT_FORMAT;
  createdAt: string;
  filters: ExportFilters;
  store: string;
  firstPosition: string | null;
  lastPosition: string | null;
  count: number;
}

const HASH_SUFFIX = /,"hash":"([0-9a-f]{64})"\}$/;

const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex');

/** Adds the line's hash as its last member: the hash covers every other byte of the line. */
export function sealLine(member: Record<string, unknown>): { line: string; hash: string } {
  const body = JSON.stringify(member);
  const hash = sha256(body);
  return { line: `${body.slice(0, -1)},"hash":"${hash}"}`, hash };
}

/** Writes the lines of an export one by one; the caller puts them where it wants (a file, a test's array). */
export class ExportChain {
  private prev: string;
  private count = 0;
  readonly manifestLine: string;

  constructor(manifest: ExportManifest) {
    const sealed = sealLine({ ...manifest });
    this.manifestLine = sealed.line;
    this.prev = sealed.hash;
  }

  eventLine(event: RecordedEvent): string {
    this.count++;
    const sealed = sealLine({
      kind: 'event',
      n: this.count,
      prev: this.prev,
      ...eventRecord(event),
    });
    this.prev = sealed.hash;
    return sealed.line;
  }

  trailerLine(): string {
    return sealLine({ kind: 'trailer', count: this.count, finalHash: this.prev, prev: this.prev }).line;
  }
}

export type ExportCheck =
  | { ok: true; count: number; manifest: ExportManifest; finalHash: string }
  | { ok: false; line: number; reason: string };

/**
 * Checks an export offline, line by line as they come (a file of any size): each line's own
 * hash, the chain, the manifest's count and positions, and the trailer. Names the first bad line.
 */
export class ExportVerifier {
  private lineNo = 0;
  private manifest: ExportManifest | null = null;
  private prev = '';
  private events = 0;
  private lastPosition: string | null = null;
  private ended = false;
  private finalHash = '';
  private failure: { line: number; reason: string } | null = null;

  /** Feeds one line (without its newline); false once a line failed (later lines are not looked at). */
  push(text: string): boolean {
    if (this.failure) return false;
    this.lineNo++;
    const fail = (reason: string) => {
      this.failure = { line: this.lineNo, reason };
      return false;
    };
    if (this.ended) return fail('there is a line after the trailer');
    const sealed = HASH_SUFFIX.exec(text);
    if (!sealed) return fail(text.trim() === '' ? 'the line is empty' : 'the line does not end with its hash (cut off or altered)');
    const hash = sealed[1] as string;
    const body = `${text.slice(0, sealed.index)}}`;
    if (sha256(body) !== hash) return fail('its content does not match its hash (the line was altered)');
    let value: Record<string, unknown>;
    try {
      value = JSON.parse(body) as Record<string, unknown>;
    } catch {
      return fail('the line is not JSON');
    }
    if (this.lineNo === 1) {
      if (value['kind'] !== 'manifest' || value['format'] !== EXPORT_FORMAT) return fail(`the first line is not a ${EXPORT_FORMAT} manifest`);
      this.manifest = value as unknown as ExportManifest;
      this.prev = hash;
      return true;
    }
    if (value['prev'] !== this.prev) return fail(`its prev is not the hash of line ${this.lineNo - 1} (a line was removed, inserted or reordered)`);
    if (value['kind'] === 'event') {
      this.events++;
      if (value['n'] !== this.events) return fail(`it is event ${String(value['n'])}, expected event ${this.events}`);
      if (this.events === 1 && value['position'] !== this.manifest?.firstPosition) return fail(`the first event is at ${String(value['position'])}, the manifest says ${String(this.manifest?.firstPosition)}`);
      this.lastPosition = String(value['position']);
      this.prev = hash;
      return true;
    }
    if (value['kind'] === 'trailer') {
      if (value['count'] !== this.events) return fail(`the trailer counts ${String(value['count'])} events, the file holds ${this.events}`);
      if (value['finalHash'] !== this.prev) return fail('the trailer\'s final hash is not the last event\'s');
      if (this.manifest?.count !== this.events) return fail(`the manifest announces ${String(this.manifest?.count)} events, the file holds ${this.events}`);
      if (this.events > 0 && this.manifest.lastPosition !== this.lastPosition) return fail(`the last event is at ${String(this.lastPosition)}, the manifest says ${String(this.manifest.lastPosition)}`);
      this.ended = true;
      this.finalHash = value['finalHash'] as string;
      return true;
    }
    return fail(`unknown line kind ${JSON.stringify(value['kind'])}`);
  }

  /** The verdict once every line was pushed. */
  end(): ExportCheck {
    if (this.failure) return { ok: false, ...this.failure };
    if (this.lineNo === 0) return { ok: false, line: 1, reason: 'the file is empty' };
    if (!this.ended) {
      return { ok: false, line: this.lineNo + 1, reason: `the file ends after line ${this.lineNo} without a trailer (truncated${this.manifest ? `: ${this.events} of ${this.manifest.count} events` : ''})` };
    }
    return { ok: true, count: this.events, manifest: this.manifest as ExportManifest, finalHash: this.finalHash };
  }
}

/** Checks the lines of an export (a file read line by line, say). */
export async function verifyExportLines(lines: AsyncIterable<string> | Iterable<string>): Promise<ExportCheck> {
  const verifier = new ExportVerifier();
  for await (const line of lines) if (!verifier.push(line)) break;
  return verifier.end();
}
