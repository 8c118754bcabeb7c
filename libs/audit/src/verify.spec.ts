import { ADMISSION_EVENT_TYPES, Status, fold, schemaVersionMetadata, upcast, type SimDeployment, type SimDeploymentEvent } from '@simdeploy/domain';
import type { ReadModel } from '@simdeploy/read-model';
import type { RecordedEvent } from '@simdeploy/event-store';
import { illegalSequence, lateInstanceReleased, leakedInstance, lifecycle } from '@simdeploy/testing';
import { formatVerifyReport, StoreVerifier } from './verify';

let position = 0;
const record = (streamId: string, events: readonly { type: string; data: object; metadata?: Record<string, unknown> }[]): RecordedEvent[] =>
  events.map((e, i) => ({
    streamId,
    revision: String(i + 1),
    position: String(++position * 1000),
    recordedAt: '2026-12-01T12:00:00.000Z',
    type: e.type,
    data: e.data,
    metadata: e.metadata ?? schemaVersionMetadata(),
  }));

const clean = (id: string, outcome: 'finished' | 'rolled-back' | 'rejected' | 'running' | 'admin-review') => record(id, lifecycle({ id, owner: 'alice', requestedAt: Date.UTC(2026, 11, 1), outcome }));

async function verified(...streams: RecordedEvent[][]) {
  const verifier = new StoreVerifier();
  // Interleaved, as a store holds concurrent deployments.
  const all = streams.flat().sort((a, b) => Number(a.position) - Number(b.position));
  verifier.add(all);
  return verifier.finish(null, 'test');
}

describe('StoreVerifier', () => {
  it('passes real lifecycles of every ending, with v1 events beside current ones and an admission ledger', async () => {
    const v1 = lifecycle({ id: 'v1', owner: 'bob', requestedAt: Date.UTC(2026, 0, 1), outcome: 'rolled-back' }).map(({ type, data }) => ({ type, data }));
    expect(ADMISSION_EVENT_TYPES).toContain('LaunchAdmitted');
    const ledger = record('ledger-abc', [{ type: 'LaunchAdmitted', data: { at: 'x', deploymentId: 'a', weight: 1 } }]);
    const report = await verified(clean('a', 'finished'), clean('b', 'rolled-back'), clean('c', 'rejected'), clean('d', 'running'), clean('e', 'admin-review'), record('v1', v1), ledger, record('late', lateInstanceReleased('late')));
    expect(report).toMatchObject({ ok: true, deployments: 7, streams: 8, ledgerStreams: 1, unknownEvents: { count: 0 }, illegalSequences: { count: 0 }, leaks: { count: 0 } });
    expect(report.readModel.skipped).toBe('test');
  });

  it('reports an illegal sequence with its stream and the step', async () => {
    const report = await verified(clean('a', 'finished'), record('bad', illegalSequence('bad')));
    expect(report.ok).toBe(false);
    expect(report.illegalSequences).toEqual({ count: 1, streams: [expect.objectContaining({ streamId: 'bad', detail: 'Pending -> Running is not in the transition table' })] });
  });

  it('reports a rollback edge taken without a failure, a repeated step and events before the request', async () => {
    const [req, nodes] = lifecycle({ id: 'r', owner: 'alice', requestedAt: 0, outcome: 'finished' }) as SimDeploymentEvent[];
    const rollback = record('r', [req as SimDeploymentEvent, nodes as SimDeploymentEvent, { type: 'NodesDeletionStarted', data: { at: 'x' } }]);
    const repeated = record('p', [{ ...(req as SimDeploymentEvent), data: { ...(req as Extract<SimDeploymentEvent, { type: 'SimulationRequested' }>).data, deploymentId: 'p' } } as SimDeploymentEvent, nodes as SimDeploymentEvent, nodes as SimDeploymentEvent]);
    const orphan = record('o', [{ type: 'SimulationRunning', data: { at: 'x' } }]);
    const report = await verified(rollback, repeated, orphan);
    expect(Object.fromEntries(report.illegalSequences.streams.map((s) => [s.streamId, s.detail]))).toEqual({
      r: 'LaunchingNodes -> DeletingNodes is a rollback, but the launch had not failed',
      p: 'NodesLaunchStarted repeated in LaunchingNodes',
      o: 'SimulationRunning before SimulationRequested',
    });
  });

  it('reports an instance a Terminated deployment recorded and never released', async () => {
    const report = await verified(clean('a', 'finished'), record('leak', leakedInstance('leak', 'i-0abc')));
    expect(report.illegalSequences.count).toBe(0);
    expect(report.leaks).toEqual({ count: 1, streams: [{ streamId: 'leak', instances: ['i-0abc'], workload: false }] });
    expect(formatVerifyReport(report)).toContain('leak: instance i-0abc');
  });

  it('reports unknown event types and schema versions from the future', async () => {
    const report = await verified(
      record('u', [...lifecycle({ id: 'u', owner: 'a', requestedAt: 0, outcome: 'running' }), { type: 'SimulationTeleported', data: {} }]),
      record('f', lifecycle({ id: 'f', owner: 'a', requestedAt: 0, outcome: 'running' }).map((e) => ({ ...e, metadata: { schemaVersion: 99 } }))),
    );
    expect(report.unknownEvents.streams.map((s) => [s.streamId, s.detail])).toEqual([
      ['u', 'SimulationTeleported: unknown type'],
      ['f', 'SimulationRequested: schema version 99'],
    ]);
    expect(report.ok).toBe(false);
  });
});

describe('StoreVerifier against a read model', () => {
  const readModelOf = (views: SimDeployment[], checkpoint: string | null) =>
    ({
      checkpoint: async () => checkpoint,
      list: async (q: { limit: number; cursor?: string }) => {
        const start = q.cursor === undefined ? 0 : Number(q.cursor);
        const items = views.slice(start, start + q.limit);
        return { items, nextCursor: start + q.limit < views.length ? String(start + q.limit) : null };
      },
    }) as unknown as ReadModel;

  it('names deployments whose view differs from the fold or is missing, and leaves those past the checkpoint alone', async () => {
    const streams = ['same', 'differs', 'missing', 'later'].map((id) => clean(id, 'finished'));
    const verifier = new StoreVerifier();
    verifier.add(streams.flat().sort((a, b) => Number(a.position) - Number(b.position)));
    const folded = (events: RecordedEvent[]) => fold(events.map((e) => upcast(e) as SimDeploymentEvent)) as SimDeployment;
    const [same, differs, , later] = streams as RecordedEvent[][];
    const laterStart = (later as RecordedEvent[])[0] as RecordedEvent;
    const checkpoint = String(Number(laterStart.position) - 1);
    const views = [folded(same as RecordedEvent[]), { ...folded(differs as RecordedEvent[]), status: Status.Running }, folded(later as RecordedEvent[])];
    const report = await verifier.finish(readModelOf(views, checkpoint));
    expect(report.readModel).toMatchObject({ checked: 3, notYetProjected: 1, mismatches: { count: 2 } });
    expect(Object.fromEntries(report.readModel.mismatches.streams.map((m) => [m.streamId, m.detail]))).toEqual({
      differs: 'read model says Running, the events Terminated',
      missing: 'missing from the read model',
    });
    expect(report.ok).toBe(false);
  });
});
