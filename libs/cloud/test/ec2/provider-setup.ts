import { EC2Client } from '@aws-sdk/client-ec2';
import { clientTokenFor } from '@simdeploy/domain';
import { mockClient } from 'aws-sdk-client-mock';
import { Ec2NodeProvider, type Ec2NodeProviderConfig } from '../../src/ec2';
import type { NodeRequest, ProviderError } from '../../src/ports';

export const DEPLOYMENT = 'dep-7f3a';
export const INSTALLATION = 'prod-eu';

/** What `aws eks describe-cluster` reports for a cluster (the CA is a PEM bundle, base64-encoded). */
export const CLUSTER = {
  apiServerEndpoint: 'https://0123456789ABCDEF0123456789ABCDEF.gr7.us-east-1.eks.amazonaws.com',
  certificateAuthority: Buffer.from('-----BEGIN CERTIFICATE-----\nMIIDBTCCAe2gAwIBAgIIEXAMPLE\n-----END CERTIFICATE-----\n').toString('base64'),
  serviceCidr: '172.20.0.0/16',
};

export const request = (overrides: Partial<NodeRequest> = {}): NodeRequest => ({
  deploymentId: DEPLOYMENT,
  owner: 'alice',
  role: 'simulator',
  index: 0,
  clientToken: clientTokenFor(DEPLOYMENT, 'simulator', 0),
  instanceType: 'g4dn.xlarge',
  labels: { team: 'nav' },
  ...overrides,
});

export interface TestClock {
  now(): number;
  advance(ms: number): void;
}

export interface Harness {
  delays: number[];
  clock: TestClock;
}

/** A provider whose sleeps only move the harness's clock (and are recorded), so backoff and deadlines are checked without waiting. */
export function providerOn(client: EC2Client, harness: Harness, config: Partial<Ec2NodeProviderConfig> = {}): Ec2NodeProvider {
  return new Ec2NodeProvider(
    {
      region: 'us-east-1',
      clusterName: 'sim-cluster',
      installationId: INSTALLATION,
      imageId: 'ami-0abc',
      subnetIds: ['subnet-a', 'subnet-b'],
      securityGroupIds: ['sg-nodes'],
      instanceProfileArn: 'arn:aws:iam::123456789012:instance-profile/simdeploy-node',
      cluster: CLUSTER,
      retry: { maxAttempts: 5, baseDelayMs: 100, maxDelayMs: 1_000 },
      sleep: async (ms, signal) => {
        if (signal?.aborted) throw signal.reason;
        harness.delays.push(ms);
        harness.clock.advance(ms);
      },
      random: () => 0.5,
      now: harness.clock.now,
      ...config,
    },
    client,
  );
}

/** A provider on a mocked EC2 client, with a clock that only moves when the provider sleeps or the test advances it. */
export function setup(config: Partial<Ec2NodeProviderConfig> = {}) {
  const client = new EC2Client({ region: 'us-east-1' });
  const ec2 = mockClient(client);
  let time = 0;
  const harness: Harness = { delays: [], clock: { now: () => time, advance: (ms) => void (time += ms) } };
  const provider = providerOn(client, harness, config);
  return { ec2, provider, client, ...harness, harness };
}

export const failureOf = (promise: Promise<unknown>): Promise<ProviderError & { attempts: number }> =>
  promise.then(
    () => {
      throw new Error('expected a rejection');
    },
    (err: ProviderError & { attempts: number }) => err,
  );

export const decodeUserData = (base64: string | undefined): string => Buffer.from(base64 ?? '', 'base64').toString('utf8');
