import { SimDeploymentEvent, SimDeploymentState, Status, canTransition, evolve, isSimDeploymentEvent } from '@simdeploy/domain';

/** Replays a recorded stream; returns the problems found (empty when every step is legal). */
export function checkLegalSequence(events: { type: string; data: object }[]): { statuses: Status[]; problems: string[] } {
  let state: SimDeploymentState = null;
  const statuses: Status[] = [];
  const problems: string[] = [];
  for (const recorded of events) {
    const event = { type: recorded.type, data: recorded.data };
    if (!isSimDeploymentEvent(event)) continue;
    const before = state?.status;
    state = evolve(state, event as SimDeploymentEvent);
    const after = state?.status;
    if (after === undefined) {
      problems.push(`${event.type} before the deployment existed`);
    } else if (before === undefined || before !== after) {
      if (before !== undefined && !canTransition(before, after) && event.type !== 'AdminReviewResolved') {
        problems.push(`${before} -> ${after} (${event.type}) is not in the transition table`);
      }
      statuses.push(after);
    }
  }
  return { statuses, problems };
}
