import { illegalStep } from '@simdeploy/audit';
import { SimDeploymentState, Status, evolve, upcast } from '@simdeploy/domain';

/**
 * Replays a recorded stream by the rules `simdeploy verify` checks (illegalStep); returns the
 * statuses it went through and the problems found (empty when every step is legal).
 */
export function checkLegalSequence(events: { type: string; data: object; metadata?: Readonly<Record<string, unknown>> }[]): { statuses: Status[]; problems: string[] } {
  let state: SimDeploymentState = null;
  const statuses: Status[] = [];
  const problems: string[] = [];
  for (const recorded of events) {
    const event = upcast(recorded);
    if (!event) continue;
    const before = state;
    state = evolve(state, event);
    const problem = illegalStep(before, event, state);
    if (problem) problems.push(problem);
    if (state !== null && state.status !== before?.status) statuses.push(state.status);
  }
  return { statuses, problems };
}
