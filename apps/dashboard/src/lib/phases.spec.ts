import { formatDuration, phasesOf } from './phases';

const at = (s: number) => new Date(Date.UTC(2026, 10, 28, 10, 0, s)).toISOString();
const event = (type: string, second: number) => ({ type, recordedAt: at(second), data: { at: at(second) } });

describe('phasesOf', () => {
  it('gives each status the time until the next status change; other events do not split a phase', () => {
    const phases = phasesOf(
      [
        { type: 'SimulationRequested', recordedAt: at(0), data: { requestedAt: at(0) } },
        event('NodesLaunchStarted', 1),
        event('InstanceLaunched', 3),
        event('PodsLaunchStarted', 4),
        event('SimulationRunning', 10),
        event('StopRequested', 70),
        event('PodsDeletionStarted', 71),
        event('NodesDeletionStarted', 72),
        event('InstancesTerminationStarted', 73),
        event('SimulationTerminated', 75),
      ],
      new Date(Date.parse(at(500))),
    );
    expect(phases.map((p) => [p.status, p.durationMs])).toEqual([
      ['Pending', 1_000],
      ['LaunchingNodes', 3_000],
      ['LaunchingPods', 6_000],
      ['Running', 60_000],
      ['ToBeTerminated', 1_000],
      ['DeletingPods', 1_000],
      ['DeletingNodes', 1_000],
      ['TerminatingInstances', 2_000],
      ['Terminated', 0],
    ]);
  });

  it('counts the current phase until now', () => {
    const phases = phasesOf([event('SimulationRequested', 0), event('NodesLaunchStarted', 2)], new Date(Date.parse(at(7))));
    expect(phases.at(-1)).toMatchObject({ status: 'LaunchingNodes', endedAt: null, durationMs: 5_000 });
  });

  it('reads durations the way a person does', () => {
    expect([450, 2_500, 42_000, 150_000, 7_500_000].map(formatDuration)).toEqual(['450 ms', '2.5 s', '42 s', '2 min 30 s', '2 h 5 min']);
  });
});
