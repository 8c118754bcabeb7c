import { fold } from './state';
import { CURRENT_SCHEMA_VERSION, schemaVersionMetadata, upcast, upcastEvent } from './upcast';
import { History } from '../testing';

const failure = { at: '2026-11-28T00:00:05.000Z', stage: 'LaunchingNodes', step: 'launchInstances', error: { code: 'X', message: 'x', transient: false } };

describe('upcast', () => {
  it('reads an event without a schema version as version 1, and a v1 failure without attempt as tried once', () => {
    const result = upcastEvent({ type: 'LaunchFailed', data: failure });
    expect(result).toEqual({ ok: true, version: 1, event: { type: 'LaunchFailed', data: { ...failure, attempt: 1 } } });
  });

  it('keeps a v1 failure that says its attempt, and leaves current events as they are', () => {
    expect(upcast({ type: 'LaunchFailed', data: { ...failure, attempt: 3 } })).toEqual({ type: 'LaunchFailed', data: { ...failure, attempt: 3 } });
    const current = { type: 'TerminationFailed', data: { ...failure, attempt: 2 }, metadata: schemaVersionMetadata() };
    expect(upcastEvent(current)).toEqual({ ok: true, version: CURRENT_SCHEMA_VERSION, event: { type: 'TerminationFailed', data: current.data } });
  });

  it('refuses a version from the future, a version that is not a whole number, an unknown type and data that is no object', () => {
    expect(upcastEvent({ type: 'SimulationRunning', data: { at: 'x' }, metadata: { schemaVersion: CURRENT_SCHEMA_VERSION + 1 } })).toMatchObject({ ok: false, problem: 'unknown-version' });
    expect(upcastEvent({ type: 'SimulationRunning', data: { at: 'x' }, metadata: { schemaVersion: '2' } })).toMatchObject({ ok: false, problem: 'unknown-version', version: null });
    expect(upcastEvent({ type: 'SimulationExploded', data: {} })).toMatchObject({ ok: false, problem: 'unknown-type', version: 1 });
    expect(upcastEvent({ type: 'SimulationRunning', data: null })).toMatchObject({ ok: false, problem: 'malformed' });
  });

  it('folds a v1 history (no versions, failures without attempt) to the same state as the same history written now', () => {
    const history = History.start().launchingNodes().failed('launchInstances').events;
    const current = history.map((e) => ({ ...e, metadata: schemaVersionMetadata() }));
    const v1 = history.map((e) => {
      if (e.type !== 'LaunchFailed') return { type: e.type, data: e.data };
      const { attempt: _dropped, ...older } = e.data;
      return { type: e.type, data: older };
    });
    expect(history.some((e) => e.type === 'LaunchFailed' && e.data.attempt === 1)).toBe(true);
    expect(fold(v1.map((r) => upcast(r) ?? fail(`not upcast: ${r.type}`)))).toEqual(fold(current.map((r) => upcast(r) ?? fail(`not upcast: ${r.type}`))));
  });
});
