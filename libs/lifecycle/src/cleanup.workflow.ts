import { ProviderError } from '@simdeploy/cloud';
import { FailureSource, SimDeployment, Status, WorkOwner, recordedInstanceIds, workOwner } from '@simdeploy/domain';
import { StepFailedError, callProvider } from './provider-call';
import { ProviderRegistry } from './providers';
import { LifecycleSettings } from './settings';
import { DONE, StepOutcome, retryAfter } from './step-outcome';
import { DeploymentSteps } from './steps';

const MAX_STEPS_PER_DELIVERY = 8;

/**
 * Frees what a deployment holds: pods, services and policies, then nodes, then instances.
 * The terminator runs it for a stop; the error handler runs the same steps to roll back a
 * failed launch from its last valid status (LaunchingPods: everything; LaunchingNodes:
 * nodes and instances; Pending: nothing) and to finish a failed termination from the step
 * that failed. Deleting something that is not there counts as done.
 */
export class CleanupWorkflow {
  private readonly source: FailureSource;

  constructor(
    private readonly role: Extract<WorkOwner, 'terminator' | 'error-handler'>,
    private readonly steps: DeploymentSteps,
    private readonly providers: ProviderRegistry,
    private readonly settings: LifecycleSettings,
  ) {
    this.source = role === 'terminator' ? 'worker' : 'error-handler';
  }

  async run(deploymentId: string): Promise<StepOutcome> {
    for (let i = 0; i < MAX_STEPS_PER_DELIVERY; i++) {
      const { state } = await this.steps.handler.load(deploymentId);
      if (state === null || workOwner(state) !== this.role) return DONE;
      try {
        const outcome = await this.advance(state);
        if (outcome !== 'next') return outcome;
      } catch (error) {
        if (!(error instanceof StepFailedError)) throw error;
        await this.steps.recordFailure(state, state.status, this.source, error);
        return DONE;
      }
    }
    return retryAfter(0);
  }

  private async advance(state: SimDeployment): Promise<StepOutcome | 'next'> {
    const id = state.id;
    const { nodes, pods } = this.providers.get(state.provider);
    switch (state.status) {
      case Status.Pending:
        await this.steps.exec(id, 'MarkTerminated', {});
        return 'next';
      case Status.LaunchingNodes:
        await this.steps.exec(id, 'StartDeletingNodes', {});
        return 'next';
      case Status.LaunchingPods:
      case Status.ToBeTerminated:
        await this.steps.exec(id, 'StartDeletingPods', {});
        return 'next';
      case Status.DeletingPods: {
        const { gone } = await callProvider('deleteWorkload', (signal) => pods.deleteWorkload(id, signal), this.settings.retry);
        if (!gone) return this.waitForDeletion(state, 'deleteWorkload');
        await this.steps.exec(id, 'StartDeletingNodes', {});
        return 'next';
      }
      case Status.DeletingNodes: {
        const nodeNames = state.nodes.flatMap((n) => (n.nodeName ? [n.nodeName] : []));
        const { gone } = await callProvider('deleteNodes', (signal) => pods.deleteNodes(id, nodeNames, signal), this.settings.retry);
        if (!gone) return this.waitForDeletion(state, 'deleteNodes');
        await this.steps.exec(id, 'StartTerminatingInstances', {});
        return 'next';
      }
      case Status.TerminatingInstances: {
        const recorded = recordedInstanceIds(state);
        await callProvider('terminateInstances', (signal) => nodes.terminateInstances(id, recorded, signal), this.settings.retry);
        // An instance whose id never reached the events (a launcher died in between) is
        // found by its tags.
        await callProvider('terminateDeployment', (signal) => nodes.terminateDeployment(id, signal), this.settings.retry);
        await this.steps.exec(id, 'MarkTerminated', {});
        return 'next';
      }
      default:
        return DONE;
    }
  }

  private waitForDeletion(state: SimDeployment, step: string): StepOutcome {
    const elapsed = this.steps.now() - Date.parse(state.statusSince);
    if (elapsed >= this.settings.deletionTimeoutMs) {
      const seconds = Math.round(this.settings.deletionTimeoutMs / 1000);
      throw new StepFailedError(step, new ProviderError('DeletionTimeout', `still present after ${seconds} s`, false), 1);
    }
    return retryAfter(Math.min(this.settings.pollIntervalMs, this.settings.deletionTimeoutMs - elapsed));
  }
}
