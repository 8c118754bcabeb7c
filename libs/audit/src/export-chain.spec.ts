import type { RecordedEvent } from '@simdeploy/event-store';
import { EXPORT_FORMAT, ExportChain, verifyExportLines, type ExportManifest } from './export-chain';

const recorded = (n: number): RecordedEvent => ({
  streamId: `d-${n % 3}`,
  revision: String(n),
  position: String(n * 1000),
  recordedAt: new Date(Date.UTC(2026, 11, 1, 12, 0, n)).toISOString(),
  type: 'SimulationRunning',
  data: { at: '2026-12-01T12:00:00.000Z', n },
  metadata: { schemaVersion: 2 },
});

function exportOf(count: number): string[] {
  const events = Array.from({ length: count }, (_, i) => recorded(i + 1));
  const manifest: ExportManifest = { kind: 'manifest', format: EXPORT_FORMAT, createdAt: '2026-12-01T13:00:00.000Z', filters: {}, store: 'jetstream', firstPosition: events[0]?.position ?? null, lastPosition: events[count - 1]?.position ?? null, count };
  const chain = new ExportChain(manifest);
  return [chain.manifestLine, ...events.map((e) => chain.eventLine(e)), chain.trailerLine()];
}

describe('the export hash chain', () => {
  it('verifies an untouched export, and an empty one', async () => {
    const lines = exportOf(5);
    const lastEventHash = (JSON.parse(lines[5] as string) as { hash: string }).hash;
    expect(await verifyExportLines(lines)).toMatchObject({ ok: true, count: 5, finalHash: lastEventHash });
    expect(await verifyExportLines(exportOf(0))).toMatchObject({ ok: true, count: 0 });
  });

  it('names the altered line when one byte of an event changed', async () => {
    const lines = exportOf(5);
    lines[3] = (lines[3] as string).replace('"n":3', '"n":4');
    expect(await verifyExportLines(lines)).toEqual({ ok: false, line: 4, reason: 'its content does not match its hash (the line was altered)' });
  });

  it('names the line after a removed one, whose prev no longer matches', async () => {
    const lines = exportOf(5);
    lines.splice(2, 1);
    expect(await verifyExportLines(lines)).toMatchObject({ ok: false, line: 3, reason: expect.stringContaining('prev is not the hash of line 2') });
  });

  it('catches a line altered and re-hashed, at the next line', async () => {
    const lines = exportOf(4);
    const value = JSON.parse(lines[2] as string) as Record<string, unknown>;
    const { hash: _old, ...rest } = value;
    const { createHash } = jest.requireActual<typeof import('node:crypto')>('node:crypto');
    const body = JSON.stringify({ ...rest, data: { forged: true } });
    lines[2] = `${body.slice(0, -1)},"hash":"${createHash('sha256').update(body).digest('hex')}"}`;
    expect(await verifyExportLines(lines)).toMatchObject({ ok: false, line: 4 });
  });

  it('names the missing trailer of an export cut after a whole line, and the cut line of one cut mid-line', async () => {
    const lines = exportOf(5);
    expect(await verifyExportLines(lines.slice(0, 4))).toEqual({ ok: false, line: 5, reason: 'the file ends after line 4 without a trailer (truncated: 3 of 5 events)' });
    const cut = lines.slice(0, 4);
    cut[3] = (cut[3] as string).slice(0, 40);
    expect(await verifyExportLines(cut)).toMatchObject({ ok: false, line: 4, reason: expect.stringContaining('does not end with its hash') });
  });

  it('refuses a trailer whose count disagrees with the manifest, and lines after the trailer', async () => {
    const lines = exportOf(3);
    expect(await verifyExportLines([...lines, lines[1] as string])).toMatchObject({ ok: false, line: 6, reason: 'there is a line after the trailer' });
    expect(await verifyExportLines([])).toMatchObject({ ok: false, line: 1 });
  });
});
