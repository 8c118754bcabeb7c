import { describeNodeProviderContract } from '../../src/testing/provider-contract';
import { ec2World } from './ec2-world';

describeNodeProviderContract('ec2', async () => {
  const world = ec2World();
  return {
    nodes: world.provider(),
    // Its own client and memory (no launches remembered), over the same EC2 account.
    otherProcess: world.provider(),
    withoutCapacity: world.provider({ subnetIds: world.fullSubnets }),
    failingMachines: world.provider({ imageId: world.unbootableImage }),
    progress: world.progress,
    readyWithinMs: 1_000,
    catchUp: world.catchUp,
    teardown: world.teardown,
  };
});
