import { ProviderError, ReadinessCheck } from '@simdeploy/cloud';
import { DomainError, SimDeployment, Status } from '@simdeploy/domain';
import { CommandKind } from '@simdeploy/messaging';
import { StepFailedError, callProvider, realSleep } from './provider-call';
import { ProviderRegistry } from './providers';
import { LifecycleSettings } from './settings';
import { DONE, StepOutcome, retryAfter } from './step-outcome';
import { DeploymentSteps } from './steps';

/** Enough for Pending -> Running in one delivery when nothing has to be waited for. */
const MAX_STEPS_PER_DELIVERY = 8;

/**
 * Pending -> LaunchingNodes -> LaunchingPods -> Running, one step at a time. Each call does
 * what can be done now and says when to be called again: waiting for machines never holds
 * a worker. Every step is idempotent, so a redelivered command resumes where the events say.
 */
export class LaunchWorkflow {
  constructor(
    private readonly steps: DeploymentSteps,
    private readonly providers: ProviderRegistry,
    private readonly settings: LifecycleSettings,
  ) {}

  async run(deploymentId: string): Promise<StepOutcome> {
    for (let i = 0; i < MAX_STEPS_PER_DELIVERY; i++) {
      const { state } = await this.steps.handler.load(deploymentId);
      if (state === null) return DONE;
      const outcome = await this.advance(state);
      if (outcome !== 'next') return outcome;
    }
    return retryAfter(0);
  }

  private async advance(state: SimDeployment): Promise<StepOutcome | 'next'> {
    if (state.errorStatus !== null) return DONE;
    try {
      switch (state.status) {
        case Status.Pending:
          await this.steps.exec(state.id, 'StartLaunchingNodes', {});
          return 'next';
        case Status.LaunchingNodes:
          return await this.launchNodes(state);
        case Status.LaunchingPods:
          return await this.launchPods(state);
        case Status.Running:
          return await this.watchMaxDuration(state);
        default:
          return DONE;
      }
    } catch (error) {
      if (!(error instanceof StepFailedError)) throw error;
      await this.steps.recordFailure(state, state.status, 'worker', error);
      return DONE;
    }
  }

  private async launchNodes(state: SimDeployment): Promise<StepOutcome | 'next'> {
    const { nodes, pods } = this.providers.get(state.provider);
    for (const node of state.nodes.filter((n) => !n.instanceId)) {
      const launched = await callProvider(
        'launchNode',
        (signal) =>
          nodes.launchNode(
            {
              deploymentId: state.id,
              owner: state.owner,
              role: node.role,
              index: node.index,
              clientToken: node.clientToken,
              instanceType: node.instanceType,
              labels: state.spec.labels,
            },
            signal,
          ),
        this.settings.retry,
      );
      const recorded = await this.steps.exec(state.id, 'RecordInstance', {
        role: node.role,
        index: node.index,
        instanceId: launched.instanceId,
        nodeName: launched.nodeName,
      });
      // A stop overtook this launch. Once the terminator is terminating instances it may
      // already have passed this one (or the record was refused): it is ours to give back.
      const after = recorded instanceof DomainError ? null : recorded.state;
      if (after === null || after.status === Status.TerminatingInstances || after.status === Status.Terminated) {
        await nodes.terminateInstances(state.id, [launched.instanceId]);
        return 'next';
      }
    }
    const { state: current } = await this.steps.handler.load(state.id);
    if (current === null || current.status !== Status.LaunchingNodes) return 'next';

    const machines = current.nodes.map((n) => ({ instanceId: n.instanceId ?? '', nodeName: n.nodeName ?? '' }));
    const waiting = await this.wait(current, 'waitNodesReady', this.settings.nodeReadyTimeoutMs, 'NodeReadyTimeout', async () => {
      const up = await callProvider('checkNodes', (signal) => nodes.checkNodes(current.id, machines, signal), this.settings.retry);
      if (up.state !== 'ready') return up;
      return callProvider(
        'checkNodesJoined',
        (signal) => pods.checkNodesJoined(current.id, machines.map((m) => m.nodeName), signal),
        this.settings.retry,
      );
    });
    if (waiting) return waiting;
    await this.steps.exec(current.id, 'StartLaunchingPods', {});
    return 'next';
  }

  private async launchPods(state: SimDeployment): Promise<StepOutcome | 'next'> {
    const { pods } = this.providers.get(state.provider);
    await callProvider(
      'createWorkload',
      (signal) =>
        pods.createWorkload(
          {
            deploymentId: state.id,
            owner: state.owner,
            spec: state.spec,
            plan: { pods: state.pods, services: state.services, networkPolicies: state.networkPolicies },
            nodes: state.nodes,
          },
          signal,
        ),
      this.settings.retry,
    );
    // A stop that overtook this launch may have deleted the pods before they were created.
    if (await this.undoLateWorkload(state)) return 'next';
    const waiting = await this.wait(state, 'waitPodsReady', this.settings.podReadyTimeoutMs, 'PodReadyTimeout', () =>
      callProvider('checkWorkload', (signal) => pods.checkWorkload(state.id, state.pods, signal), this.settings.retry),
    );
    if (waiting) return waiting;
    await this.steps.exec(state.id, 'MarkRunning', {});
    return 'next';
  }

  /**
   * A stop can overtake a launch while it creates pods: if the deployment has left
   * LaunchingPods, the terminator may have deleted the pods before these were created, so
   * this launch deletes what it made (deleting twice is harmless) and says it did.
   */
  private async undoLateWorkload(launched: SimDeployment): Promise<boolean> {
    const { state } = await this.steps.handler.load(launched.id);
    if (state !== null && state.status === Status.LaunchingPods && state.errorStatus === null) return false;
    const { pods } = this.providers.get(launched.provider);
    const deadline = this.steps.now() + this.settings.deletionTimeoutMs;
    while (!(await pods.deleteWorkload(launched.id)).gone && this.steps.now() < deadline) {
      await realSleep(this.settings.pollIntervalMs);
    }
    return true;
  }

  /**
   * Checks once. Ready: carry on. Not yet: ask to be called again, unless the phase
   * deadline (counted from the event that started the phase) has passed. Failed: fail.
   */
  private async wait(
    state: SimDeployment,
    step: string,
    timeoutMs: number,
    timeoutCode: string,
    check: () => Promise<ReadinessCheck>,
  ): Promise<StepOutcome | null> {
    const result = await check();
    if (result.state === 'ready') return null;
    if (result.state === 'failed') {
      const logs = result.logs?.length ? `\nlast log lines:\n${result.logs.join('\n')}` : '';
      const failure = new ProviderError(result.error.code, result.error.message + logs, false);
      throw new StepFailedError(step, failure, 1);
    }
    const elapsed = this.steps.now() - Date.parse(state.statusSince);
    if (elapsed >= timeoutMs) {
      const detail = result.detail ? ` (${result.detail})` : '';
      throw new StepFailedError(
        step,
        new ProviderError(timeoutCode, `not ready after ${Math.round(timeoutMs / 1000)} s${detail}`, false),
        1,
      );
    }
    return retryAfter(Math.min(this.settings.pollIntervalMs, timeoutMs - elapsed));
  }

  /** A simulation with a maximum duration is stopped when it is due, even across restarts. */
  private async watchMaxDuration(state: SimDeployment): Promise<StepOutcome> {
    const maxSeconds = state.spec.maxDurationSeconds;
    if (!maxSeconds || !state.runningSince) return DONE;
    const dueAt = Date.parse(state.runningSince) + maxSeconds * 1000;
    const remaining = dueAt - this.steps.now();
    if (remaining > 0) return retryAfter(remaining);
    const stopped = await this.steps.exec(state.id, 'RequestStop', { reason: 'max-duration' });
    if (!(stopped instanceof DomainError) && stopped.events.length > 0) {
      await this.steps.send(state.id, CommandKind.Terminate, 'max-duration');
    }
    return DONE;
  }
}
