import { Logger } from '@nestjs/common';
import {
  DomainError,
  command,
  isValidDeploymentId,
  recordedInstanceIds,
  Status,
  type OrphanReason,
  type OrphanSweptData,
  type SimDeployment,
  type SweptResourceKind,
} from '@simdeploy/domain';
import type { ManagedInstance, ManagedWorkload } from '@simdeploy/cloud';
import type { WorkerConfig } from '@simdeploy/config';
import { recoveryMetrics } from '@simdeploy/telemetry';
import { DeploymentCommandHandler } from '../command-handler';
import { ProviderRegistry, type Providers } from '../providers';
import { Clock, serviceActor } from '../settings';

/** Where the sweep records what it found when the resource belongs to no deployment. */
export const SWEEP_STREAM = 'sweep';
/** Slack on top of the node-ready timeout for a launcher between launching a machine and recording it. */
export const LAUNCH_DEADLINE_MARGIN_MS = 10 * 60_000;

export type { OrphanReason, OrphanSweptData };
export type SweepAction = 'removed' | 'would-remove' | 'failed';
export type ResourceKind = SweptResourceKind;

export interface SweepFinding extends Omit<OrphanSweptData, 'at' | 'dryRun'> {
  deploymentId: string | null;
  action: SweepAction;
  /** The stream the finding was recorded in; absent when removal failed or recording did. */
  recordedIn?: string;
  error?: string;
}

export interface SweepReport {
  at: string;
  dryRun: boolean;
  /** Resources carrying the control plane's tag that were looked at. */
  checked: { instances: number; workloads: number };
  findings: SweepFinding[];
  /** Providers the sweep could not list; the next sweep tries again. */
  errors: { provider: string; kind: ResourceKind; message: string }[];
}

export interface OrphanSweeperOptions {
  /** Report and record, remove nothing. */
  dryRun?: boolean;
  /**
   * How long after its node launch began a deployment may hold an instance it has not
   * recorded. Default: `nodeReadyTimeoutMs` + LAUNCH_DEADLINE_MARGIN_MS.
   */
  launchDeadlineMs?: number;
  nodeReadyTimeoutMs?: number;
}

export const defaultLaunchDeadlineMs = (nodeReadyTimeoutMs = 300_000): number => nodeReadyTimeoutMs + LAUNCH_DEADLINE_MARGIN_MS;

const message = (error: unknown): string => (error instanceof Error ? error.message : String(error));

/** Instances on their way out need nothing from us. */
const GOING_STATES = new Set(['shutting-down', 'terminated']);

/**
 * Finds what the providers hold under the control plane's tag that no deployment will ever
 * clean up, and removes it. Cleanup is the terminator's job; the sweep only catches what
 * falls between the cracks: a launcher that died between launching a machine and recording
 * it, a deployment finished or resolved by an admin with something left behind, a
 * deployment whose events are gone. Run it from one place at a time (the active error handler).
 */
export class OrphanSweeper {
  private readonly logger = new Logger(OrphanSweeper.name);
  private readonly dryRun: boolean;
  private readonly launchDeadlineMs: number;

  constructor(
    private readonly registry: ProviderRegistry,
    private readonly handler: DeploymentCommandHandler,
    private readonly clock: Clock,
    options: OrphanSweeperOptions = {},
  ) {
    this.dryRun = options.dryRun ?? false;
    this.launchDeadlineMs = options.launchDeadlineMs ?? defaultLaunchDeadlineMs(options.nodeReadyTimeoutMs);
  }

  async sweepOnce(signal?: AbortSignal): Promise<SweepReport> {
    const report: SweepReport = {
      at: this.clock.now().toISOString(),
      dryRun: this.dryRun,
      checked: { instances: 0, workloads: 0 },
      findings: [],
      errors: [],
    };
    for (const provider of this.registry.names()) {
      const providers = this.registry.get(provider);
      await this.sweepInstances(provider, providers, report, signal);
      await this.sweepWorkloads(provider, providers, report, signal);
    }
    if (report.findings.length > 0 || report.errors.length > 0) {
      this.logger.log(
        `sweep${this.dryRun ? ' (dry run)' : ''}: ${report.findings.map((f) => `${f.provider} ${f.kind} ${f.resourceId} ${f.reason} ${f.action}`).join('; ') || 'no orphans'}` +
          (report.errors.length > 0 ? `; errors: ${report.errors.map((e) => `${e.provider} ${e.kind}: ${e.message}`).join('; ')}` : ''),
      );
    }
    for (const finding of report.findings) recoveryMetrics.sweepFindings.inc({ provider: finding.provider, kind: finding.kind, action: finding.action });
    for (const error of report.errors) recoveryMetrics.sweepErrors.inc({ provider: error.provider, kind: error.kind });
    return report;
  }

  /**
   * Lists twice around reading the deployments: a resource the cleanup removed while the sweep
   * read its deployment's state is gone from the second list, so it is never judged an orphan
   * (nor recorded as removed) only because its deployment finished a moment later.
   */
  private async listJudged<R extends { deploymentId: string | null }>(
    list: () => Promise<R[]>,
  ): Promise<{ resources: R[]; deployments: Map<string, SimDeployment | null> }> {
    const first = await list();
    const deployments = new Map<string, SimDeployment | null>();
    for (const id of new Set(first.map((r) => r.deploymentId ?? ''))) deployments.set(id, await this.deploymentOf(id || null));
    const resources = (await list()).filter((r) => deployments.has(r.deploymentId ?? ''));
    return { resources, deployments };
  }

  private async sweepInstances(provider: string, { nodes }: Providers, report: SweepReport, signal?: AbortSignal): Promise<void> {
    let judged: { resources: ManagedInstance[]; deployments: Map<string, SimDeployment | null> };
    try {
      judged = await this.listJudged(async () => (await nodes.listManagedInstances(signal)).filter((i) => !GOING_STATES.has(i.state)));
    } catch (error) {
      report.errors.push({ provider, kind: 'instance', message: message(error) });
      return;
    }
    const instances = judged.resources;
    report.checked.instances += instances.length;
    for (const instance of instances) {
      const deployment = judged.deployments.get(instance.deploymentId ?? '') ?? null;
      const reason = this.instanceOrphanReason(instance, deployment);
      if (!reason) continue;
      await this.remove(report, { provider, kind: 'instance', resourceId: instance.instanceId, deploymentId: instance.deploymentId, reason }, deployment, () =>
        nodes.terminateInstances(instance.deploymentId ?? '', [instance.instanceId], signal),
      );
    }
  }

  private async sweepWorkloads(provider: string, { pods }: Providers, report: SweepReport, signal?: AbortSignal): Promise<void> {
    let judged: { resources: ManagedWorkload[]; deployments: Map<string, SimDeployment | null> };
    try {
      judged = await this.listJudged(() => pods.listManagedWorkloads(signal));
    } catch (error) {
      report.errors.push({ provider, kind: 'workload', message: message(error) });
      return;
    }
    const workloads = judged.resources;
    report.checked.workloads += workloads.length;
    for (const workload of workloads) {
      const deployment = judged.deployments.get(workload.deploymentId) ?? null;
      // Workloads are only created after every instance is recorded and deleted by the
      // terminator, so only a finished or unknown deployment leaves one behind.
      const reason = finalOrUnknown(deployment);
      if (!reason) continue;
      await this.remove(
        report,
        { provider, kind: 'workload', resourceId: workload.deploymentId, deploymentId: workload.deploymentId, reason },
        deployment,
        () => pods.deleteWorkload(workload.deploymentId, signal),
      );
    }
  }

  /** Null when the id is missing, not a deployment id, or has no events. */
  private async deploymentOf(deploymentId: string | null): Promise<SimDeployment | null> {
    if (deploymentId === null || !isValidDeploymentId(deploymentId)) return null;
    return (await this.handler.load(deploymentId)).state;
  }

  private instanceOrphanReason(instance: ManagedInstance, deployment: SimDeployment | null): OrphanReason | undefined {
    const final = finalOrUnknown(deployment);
    if (final || deployment === null) return final;
    if (recordedInstanceIds(deployment).includes(instance.instanceId)) return undefined;
    // A launcher may hold this instance between launchNode and RecordInstance: leave it
    // alone while the deployment is still launching nodes within its deadline.
    const launching = deployment.status === Status.Pending || deployment.status === Status.LaunchingNodes;
    const deadline = Date.parse(deployment.statusSince) + this.launchDeadlineMs;
    if (launching && this.clock.now().getTime() < deadline) return undefined;
    return 'unrecorded-after-launch-deadline';
  }

  private async remove(
    report: SweepReport,
    finding: Omit<SweepFinding, 'action'>,
    deployment: SimDeployment | null,
    removal: () => Promise<unknown>,
  ): Promise<void> {
    const entry: SweepFinding = { ...finding, action: this.dryRun ? 'would-remove' : 'removed' };
    report.findings.push(entry);
    if (!this.dryRun) {
      try {
        await removal();
      } catch (error) {
        // Nothing happened, so nothing is recorded; the next sweep finds it again.
        Object.assign(entry, { action: 'failed', error: message(error) });
        return;
      }
    }
    const stream = deployment ? deployment.id : SWEEP_STREAM;
    const data: Omit<OrphanSweptData, 'at'> = {
      provider: finding.provider,
      kind: finding.kind,
      resourceId: finding.resourceId,
      reason: finding.reason,
      dryRun: this.dryRun,
      ...(deployment ? {} : { deploymentId: finding.deploymentId }),
    };
    try {
      const recorded = await this.handler.handle(
        stream,
        command('RecordOrphanSwept', data, { now: this.clock.now().toISOString(), by: SWEEP_ACTOR }),
        { causationId: 'orphan-sweep' },
      );
      if (recorded instanceof DomainError) throw recorded;
      entry.recordedIn = stream;
    } catch (error) {
      entry.error = `${entry.action === 'removed' ? 'removed' : 'found'} but not recorded: ${message(error)}`;
    }
  }
}

function finalOrUnknown(deployment: SimDeployment | null): OrphanReason | undefined {
  if (deployment === null) return 'deployment-unknown';
  if (deployment.status === Status.Terminated) return 'deployment-terminated';
  if (deployment.status === Status.Rejected) return 'deployment-rejected';
  return undefined;
}

export interface OrphanSweeperDeps {
  registry: ProviderRegistry;
  handler: DeploymentCommandHandler;
  clock: Clock;
}

const SWEEP_ACTOR = serviceActor('orphan-sweep');

export const createOrphanSweeper = (deps: OrphanSweeperDeps, options: OrphanSweeperOptions = {}): OrphanSweeper =>
  new OrphanSweeper(deps.registry, deps.handler, deps.clock, options);

/** The sweep settings of a worker's configuration (SWEEP_DRY_RUN, SWEEP_LAUNCH_DEADLINE_S, NODE_READY_TIMEOUT_S). */
export const sweeperOptionsFrom = (
  config: Pick<WorkerConfig, 'SWEEP_DRY_RUN' | 'SWEEP_LAUNCH_DEADLINE_S' | 'NODE_READY_TIMEOUT_S'>,
): OrphanSweeperOptions => ({
  dryRun: config.SWEEP_DRY_RUN,
  nodeReadyTimeoutMs: config.NODE_READY_TIMEOUT_S * 1000,
  ...(config.SWEEP_LAUNCH_DEADLINE_S === undefined ? {} : { launchDeadlineMs: config.SWEEP_LAUNCH_DEADLINE_S * 1000 }),
});
