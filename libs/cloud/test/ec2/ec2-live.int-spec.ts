import { randomBytes } from 'node:crypto';
import { Ec2NodeProvider } from '../../src/ec2';
import type { NodeRequest } from '../../src/ports';
import { clientTokenFor } from '@simdeploy/domain';
import { waitFor } from '@simdeploy/testing';

/**
 * Opt-in: runs against whatever EC2-compatible endpoint AWS_ENDPOINT_URL names (an emulator
 * or, deliberately, a real account), with credentials from the usual AWS variables. It
 * launches one instance and terminates it again.
 */
const endpoint = process.env['AWS_ENDPOINT_URL'];

if (!endpoint) {
  it.skip('EC2 live test skipped: set AWS_ENDPOINT_URL', () => undefined);
} else {
  describe(`Ec2NodeProvider live against ${endpoint}`, () => {
    const optional = (name: string): string[] => (process.env[name] ? [process.env[name] as string] : []);
    const provider = new Ec2NodeProvider({
      region: process.env['AWS_REGION'] ?? 'us-east-1',
      clusterName: process.env['SIMDEPLOY_EC2_CLUSTER_NAME'] ?? 'simdeploy-live-test',
      installationId: process.env['SIMDEPLOY_INSTALLATION_ID'] ?? 'live-test',
      imageId: process.env['SIMDEPLOY_EC2_IMAGE_ID'] ?? 'ami-12345678',
      // The machine never has to join a cluster here; AL2 user data needs no cluster details.
      nodeBootstrap: 'al2',
      subnetIds: optional('SIMDEPLOY_EC2_SUBNET_ID'),
      securityGroupIds: optional('SIMDEPLOY_EC2_SECURITY_GROUP_ID'),
      endpoint,
      retry: { maxAttempts: 3, baseDelayMs: 200, maxDelayMs: 2_000 },
    });
    const deploymentId = `live-${randomBytes(5).toString('hex')}`;
    const request: NodeRequest = {
      deploymentId,
      owner: 'live-test',
      role: 'simulator',
      index: 0,
      clientToken: clientTokenFor(deploymentId, 'simulator', 0),
      instanceType: process.env['SIMDEPLOY_EC2_INSTANCE_TYPE'] ?? 't3.micro',
      labels: { purpose: 'simdeploy-live-test' },
    };

    afterAll(async () => {
      // Whatever the assertions did, leave nothing running.
      await provider.terminateDeployment(deploymentId);
    });

    it('launches once per client token, lists it as managed and terminates it by deployment', async () => {
      const first = await provider.launchNode(request);
      const again = await provider.launchNode(request);
      expect(again.instanceId).toBe(first.instanceId);
      expect(first.nodeName).not.toBe('');

      const managed = await waitFor(
        async () => (await provider.listManagedInstances()).find((i) => i.instanceId === first.instanceId),
        { timeoutMs: 60_000, intervalMs: 1_000, description: `${first.instanceId} in listManagedInstances` },
      );
      expect(managed).toMatchObject({ deploymentId, clientToken: expect.stringMatching(new RegExp(`^${request.clientToken}-[0-9a-f]{8}$`)) });

      await expect(provider.terminateDeployment(deploymentId)).resolves.toEqual([first.instanceId]);
      await waitFor(async () => (await provider.terminateDeployment(deploymentId)).length === 0, {
        timeoutMs: 120_000,
        intervalMs: 2_000,
        description: `${first.instanceId} no longer live`,
      });
      await expect(provider.terminateInstances(deploymentId, [first.instanceId])).resolves.toBeUndefined();
    }, 240_000);
  });
}
