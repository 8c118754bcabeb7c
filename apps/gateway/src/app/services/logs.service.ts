import { BadGatewayException, BadRequestException, ConflictException, Injectable } from '@nestjs/common';
import { ProviderError } from '@simdeploy/cloud';
import { DeploymentCommandHandler, ProviderRegistry } from '@simdeploy/workflows';
import type { Principal } from '../auth/principal';
import { loadVisible } from './visible-deployment';
import type { LogsQuery } from '../dtos/logs.query';

export interface SimulationLogs {
  deploymentId: string;
  pod: string;
  /** Every pod of the simulation, for asking about another. */
  pods: string[];
  /** `runtime`: read from the running pod; `archive`: the copy kept at termination; `none`: no log was kept (the workload never ran, or archiving failed). */
  source: 'runtime' | 'archive' | 'none';
  lines: string[];
  /** Why the archive holds nothing, when archiving failed. */
  archiveError?: string;
}

const DEFAULT_TAIL = 100;

/**
 * A pod's last log lines, wherever they are: from the pod while the workload exists, from the
 * archive once the cleanup archived it (the same archive the workers write to).
 */
@Injectable()
export class LogsService {
  constructor(
    private readonly handler: DeploymentCommandHandler,
    private readonly providers: ProviderRegistry,
  ) {}

  async logs(principal: Principal, id: string, query: LogsQuery): Promise<SimulationLogs> {
    const state = await loadVisible(this.handler, principal, id);
    const pods = state.pods.map((p) => p.name);
    const pod = query.pod ?? state.pods.find((p) => p.role === 'simulator')?.name ?? pods[0];
    if (pod === undefined) throw new ConflictException(`simulation ${id} has no pods yet (${state.status})`);
    if (!pods.includes(pod)) throw new BadRequestException(`pod "${pod}" is not a pod of simulation ${id}; its pods: ${pods.join(', ')}`);
    const tail = query.tail ?? DEFAULT_TAIL;
    const answer = (source: SimulationLogs['source'], lines: string[]): SimulationLogs => ({
      deploymentId: id,
      pod,
      pods,
      source,
      lines,
      ...(source === 'none' && state.logs?.error ? { archiveError: state.logs.error } : {}),
    });
    try {
      if (state.logs?.pods.includes(pod)) {
        const archived = await this.providers.archive.read(id, pod, tail);
        if (archived !== null) return answer('archive', archived);
      }
      if (state.workloadHeld) return answer('runtime', await this.providers.get(state.provider).pods.readLogs(id, pod, tail));
    } catch (error) {
      if (error instanceof ProviderError) throw new BadGatewayException(`the logs of ${pod} could not be read: ${error.code}: ${error.message}`);
      throw error;
    }
    return answer('none', []);
  }
}
