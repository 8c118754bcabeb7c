import { isReadyNode } from './fake-kubernetes-api';
import type { FakeCluster, Obj, Taint } from './fake-kubernetes-api';

/** A machine that may join the cluster: its node name and the user data its bootstrap got. */
export interface Machine {
  nodeName: string;
  userData: string;
}

/**
 * What the kubelet flags in a machine's user data (nodeadm's `kubelet.flags`, or bootstrap.sh's
 * `--kubelet-extra-args`) make it register with: `--node-labels=k=v,...` and
 * `--register-with-taints=k=v:Effect,...`.
 */
export function kubeletRegistration(userData: string): { labels: Record<string, string>; taints: Taint[] } {
  const flag = (name: string) => new RegExp(`--${name}=([^\\s"']+)`).exec(userData)?.[1]?.split(',') ?? [];
  const labels = Object.fromEntries(flag('node-labels').map((pair) => pair.split('=', 2) as [string, string]));
  const taints = flag('register-with-taints').map((text): Taint => {
    const [keyValue = '', effect] = text.split(':');
    const [key = '', value] = keyValue.split('=', 2);
    return { key, ...(value === undefined ? {} : { value }), effect: effect as Taint['effect'] };
  });
  return { labels, taints };
}

const tolerates = (tolerations: readonly Obj[], taint: Taint): boolean =>
  taint.effect === 'PreferNoSchedule' ||
  tolerations.some(
    (t) =>
      (t.key === undefined || t.key === taint.key) &&
      (t.operator === 'Exists' || (t.value ?? '') === (taint.value ?? '')) &&
      (t.effect === undefined || t.effect === taint.effect),
  );

/**
 * The cluster's other half for a FakeCluster: the kubelets of machines that boot, and the
 * scheduler. A tick is a moment of their work: new machines register as Ready nodes with the
 * labels and taints their user data gives the kubelet; every unbound pod is bound to the
 * first node it fits (Ready, schedulable, its nodeSelector matched, every taint tolerated),
 * or marked Unschedulable with the scheduler's message; bound pods start and pass their
 * readiness probe. Pods never restart (the runtime's pods say restartPolicy: Never).
 */
export class FakeKubelets {
  /** Deployments whose simulator container prints two lines and exits with code 3 when it starts. */
  readonly crashingSimulators = new Set<string>();
  private readonly registered = new Set<string>();

  constructor(
    private readonly cluster: FakeCluster,
    private readonly namespace = 'simdeploy',
  ) {}

  tick(machines: readonly Machine[]): void {
    for (const machine of machines) {
      if (this.registered.has(machine.nodeName)) continue;
      this.registered.add(machine.nodeName);
      this.cluster.addNode(machine.nodeName, kubeletRegistration(machine.userData));
    }
    const pods = this.cluster.list('pods').filter((pod) => pod.metadata.namespace === this.namespace && !pod.metadata.deletionTimestamp);
    for (const pod of pods.filter((p) => !p.spec.nodeName)) this.bind(pod);
    for (const pod of pods.filter((p) => p.spec.nodeName && this.creatingContainers(p))) this.start(pod);
  }

  private bind(pod: Obj): void {
    const nodes = this.cluster.list('nodes');
    const selector: Record<string, string> = pod.spec.nodeSelector ?? {};
    const refusals = new Map<string, number>();
    const refuse = (why: string) => refusals.set(why, (refusals.get(why) ?? 0) + 1);
    for (const node of nodes) {
      const labels: Record<string, string> = node.metadata.labels ?? {};
      const untolerated = ((node.spec?.taints ?? []) as Taint[]).find((taint) => !tolerates(pod.spec.tolerations ?? [], taint));
      if (!isReadyNode(node)) refuse(`node(s) had untolerated taint {node.kubernetes.io/not-ready: }`);
      else if (node.spec?.unschedulable) refuse('node(s) were unschedulable');
      else if (!Object.entries(selector).every(([key, value]) => labels[key] === value)) refuse("node(s) didn't match Pod's node affinity/selector");
      else if (untolerated) refuse(`node(s) had untolerated taint {${untolerated.key}: ${untolerated.value ?? ''}}`);
      else return this.cluster.schedule(pod.metadata.name, node.metadata.name);
    }
    const reasons = [...refusals].map(([why, count]) => `${count} ${why}`).join(', ');
    this.cluster.unschedulable(
      pod.metadata.name,
      `0/${nodes.length} nodes are available: ${reasons || 'no nodes available to schedule pods'}. preemption: 0/${nodes.length} nodes are available: ${nodes.length} Preemption is not helpful for scheduling.`,
    );
  }

  private creatingContainers(pod: Obj): boolean {
    const statuses: Obj[] = pod.status?.containerStatuses ?? [];
    return pod.status?.phase === 'Pending' && statuses.length > 0 && statuses.every((c) => c.state?.waiting?.reason === 'ContainerCreating');
  }

  private start(pod: Obj): void {
    const labels: Record<string, string> = pod.metadata.labels ?? {};
    const crashes = labels['simdeploy.io/pod-role'] === 'simulator' && this.crashingSimulators.has(labels['simdeploy.io/deployment-id'] ?? '');
    if (crashes) this.cluster.terminate(pod.metadata.name, { exitCode: 3, reason: 'Error' }, 'loading world\ncannot open display\n');
    else this.cluster.run(pod.metadata.name);
  }
}
