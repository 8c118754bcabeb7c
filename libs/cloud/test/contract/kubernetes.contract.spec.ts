import nock from 'nock';
import { KubernetesPodRuntime, type KubernetesPodRuntimeConfig, type WorkloadRequest } from '../../src';
import { describePodRuntimeContract, launchNodesWith } from '../../src/testing/provider-contract';
import { FAKE_SERVER, FakeCluster, kubeConfigFor, resetFakeApi } from '../kubernetes/fake-kubernetes-api';
import { FakeKubelets } from '../kubernetes/fake-kubelets';
import { ec2World } from './ec2-world';

/**
 * The pod runtime on the Kubernetes API double, with nodes as EKS gets them: machines launched
 * by the EC2 provider on the EC2 double, whose kubelets register (under their private DNS
 * names, with the labels and taint of the user data) once the machines run.
 */
describePodRuntimeContract('kubernetes', async () => {
  nock.disableNetConnect();
  const cluster = new FakeCluster();
  const ec2 = ec2World({ now: cluster.clock.now, advance: (ms) => cluster.clock.advance(ms / 1000) });
  const machines = ec2.provider();
  const kubelets = new FakeKubelets(cluster);
  const config: KubernetesPodRuntimeConfig = { kubeConfig: kubeConfigFor(FAKE_SERVER), now: cluster.clock.now };

  /** Its workloads' simulators crash at start: a kubelet's doing, so the runtime is told through the double. */
  class CrashingSimulators extends KubernetesPodRuntime {
    override createWorkload(request: WorkloadRequest, signal?: AbortSignal): Promise<void> {
      kubelets.crashingSimulators.add(request.deploymentId);
      return super.createWorkload(request, signal);
    }
  }

  return {
    pods: new KubernetesPodRuntime(config),
    otherProcess: new KubernetesPodRuntime(config),
    failingPods: new CrashingSimulators(config),
    nodesFor: (deploymentId, spec) => launchNodesWith(machines, deploymentId, spec),
    nodesJoinOnProgress: true,
    progress: () => {
      ec2.progress();
      const running = ec2.fake.boot().live().filter((i) => i.state === 'running');
      kubelets.tick(running.map((i) => ({ nodeName: i.privateDnsName, userData: i.userData })));
    },
    readyWithinMs: 5_000,
    teardown: async () => {
      await ec2.teardown();
      resetFakeApi();
      nock.enableNetConnect();
    },
  };
});
