import {
  decideAdmission,
  admittedBy,
  describeLedger,
  foldAdmission,
  standingOf,
  type AdmissionCommand,
  type AdmissionEvent,
  type Limits,
} from './admission';

const T = '2026-11-28T00:00:00.000Z';
const ADMIN = { subject: 'root', roles: ['admin'] };
const LEDGER = 'quota:owner:alice';
const request = (deploymentId: string, weight = 1): AdmissionCommand => ({ type: 'RequestAdmission', data: { deploymentId, weight }, at: T });
const release = (deploymentId: string): AdmissionCommand => ({ type: 'ReleaseAdmission', data: { deploymentId }, at: T });
const setLimits = (limits: Limits): AdmissionCommand => ({ type: 'SetLimits', data: limits, at: T, by: ADMIN });

/** given ledger events, when a command with these default limits: then these events. */
const given = (events: AdmissionEvent[], defaults: Limits = { maxActive: 2, maxQueued: 3 }) => ({
  when: (command: AdmissionCommand) => {
    const decided = decideAdmission(command, foldAdmission(events), defaults, LEDGER);
    return {
      then: (types: string[], check?: (events: AdmissionEvent[]) => void) => {
        expect(decided.map((e) => e.type)).toEqual(types);
        check?.(decided);
      },
      thenNothing: () => expect(decided).toEqual([]),
      events: decided,
    };
  },
});

/** The events of running these commands in order. */
function ledger(commands: AdmissionCommand[], defaults: Limits = { maxActive: 2, maxQueued: 3 }): AdmissionEvent[] {
  const events: AdmissionEvent[] = [];
  for (const command of commands) events.push(...decideAdmission(command, foldAdmission(events), defaults, LEDGER));
  return events;
}

describe('an admission ledger (limits that queue instead of refusing)', () => {
  it('admits while under the limit and queues beyond it; asking again adds nothing', () => {
    given([]).when(request('a')).then(['LaunchAdmitted']);
    const two = ledger([request('a'), request('b')]);
    given(two).when(request('c')).then(['LaunchQueued']);
    given(two).when(request('a')).thenNothing();
    const queued = ledger([request('a'), request('b'), request('c')]);
    given(queued).when(request('c')).thenNothing();
    expect(standingOf(foldAdmission(queued), 'c')).toEqual({ queued: true, place: 1 });
  });

  it('a release lets the head of the line in, in order; nobody overtakes it', () => {
    const full = ledger([request('a'), request('b'), request('c'), request('d')]);
    given(full).when(release('a')).then(['LaunchReleased', 'LaunchAdmitted'], (events) => expect(admittedBy(events)).toEqual(['c']));
    // A heavy head (it needs 2) waits for room even when a light one behind it would fit.
    const heavyHead = ledger([request('a'), request('b'), request('big', 2), request('small')]);
    given(heavyHead).when(release('a')).then(['LaunchReleased']);
    const afterOne = [...heavyHead, ...decideAdmission(release('a'), foldAdmission(heavyHead), { maxActive: 2, maxQueued: 3 }, LEDGER)];
    given(afterOne).when(release('b')).then(['LaunchReleased', 'LaunchAdmitted'], (events) => expect(admittedBy(events)).toEqual(['big']));
  });

  it('a stop of a queued launch takes it out of line and frees nothing else', () => {
    const full = ledger([request('a'), request('b'), request('c'), request('d')]);
    given(full).when(release('c')).then(['LaunchReleased']);
    const after = foldAdmission([...full, ...decideAdmission(release('c'), foldAdmission(full), { maxActive: 2, maxQueued: 3 }, LEDGER)]);
    expect(after.active.map((s) => s.deploymentId)).toEqual(['a', 'b']);
    expect(standingOf(after, 'd')).toEqual({ queued: true, place: 1 });
  });

  it('refuses a launch heavier than the whole limit, and one that finds the line full, saying why', () => {
    given([]).when(request('huge', 3)).then(['LaunchRefused'], ([event]) =>
      expect(event?.data).toMatchObject({ reason: "it needs 3 of alice's simulations and at most 2 may be held at once" }),
    );
    const lineFull = ledger([request('a'), request('b'), request('c'), request('d'), request('e')]);
    given(lineFull).when(request('f')).then(['LaunchRefused'], ([event]) => expect(event?.data).toMatchObject({ reason: expect.stringMatching(/^the line for alice's simulations is full: 3 launches are already waiting/) }));
  });

  it('an admin raising the limit lets those waiting in; lowering it evicts nobody', () => {
    const waiting = ledger([request('a'), request('b'), request('c'), request('d')]);
    given(waiting).when(setLimits({ maxActive: 4, maxQueued: 3 })).then(['LimitSet', 'LaunchAdmitted', 'LaunchAdmitted']);
    const lowered = ledger([request('a'), request('b'), setLimits({ maxActive: 1, maxQueued: 3 })]);
    expect(foldAdmission(lowered).active).toHaveLength(2);
    given(lowered).when(request('c')).then(['LaunchQueued']);
  });

  it('with no limit it admits everything', () => {
    const open = ledger([request('a'), request('b'), request('c', 50)], { maxActive: null, maxQueued: null });
    expect(foldAdmission(open).active).toHaveLength(3);
  });
});

describe('a ledger named in a reason', () => {
  it('reads as whose simulations or which machines it counts', () => {
    expect(describeLedger('quota:owner:alice')).toBe("alice's simulations");
    expect(describeLedger('quota:team:nav:robots')).toBe("team nav:robots's simulations");
    expect(describeLedger('capacity:aws:g4dn.xlarge')).toBe("aws's g4dn.xlarge machines");
    expect(describeLedger('capacity:aws:*')).toBe("aws's machines");
  });
});
