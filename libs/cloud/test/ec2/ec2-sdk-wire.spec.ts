import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Ec2NodeProvider, launchTokenFor, type Ec2NodeProviderConfig } from '../../src/ec2';
import { ProviderError, type NodeRequest } from '../../src/ports';
import { freePort } from '@simdeploy/testing';

/**
 * The real SDK against a stand-in EC2 endpoint on 127.0.0.1: checks the error shapes the SDK
 * really produces from EC2's XML, and that the client the provider builds does not retry on
 * its own (the provider's attempt count is the number of requests that reached EC2).
 */

type Answer = { status: number; body: string };

const errorXml = (code: string, message: string): string =>
  `<?xml version="1.0" encoding="UTF-8"?><Response><Errors><Error><Code>${code}</Code><Message>${message}</Message></Error></Errors><RequestID>req-1</RequestID></Response>`;

const runInstancesXml = (instanceId: string, privateDnsName: string): string =>
  `<?xml version="1.0" encoding="UTF-8"?><RunInstancesResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>req-2</requestId><reservationId>r-1</reservationId><ownerId>123456789012</ownerId><instancesSet><item><instanceId>${instanceId}</instanceId><privateDnsName>${privateDnsName}</privateDnsName><instanceState><code>0</code><name>pending</name></instanceState></item></instancesSet></RunInstancesResponse>`;

const request: NodeRequest = {
  deploymentId: 'wire-1',
  owner: 'alice',
  role: 'simulator',
  index: 0,
  clientToken: 'sd-wire-1-simulator-0',
  instanceType: 't3.large',
  labels: {},
};

describe('Ec2NodeProvider over HTTP with the real SDK', () => {
  let server: Server;
  let endpoint: string;
  const received: URLSearchParams[] = [];
  let answers: Answer[] = [];
  const savedEnv = { ...process.env };

  beforeAll(async () => {
    // The provider builds its client from the default credential chain, as in production.
    process.env['AWS_ACCESS_KEY_ID'] = 'AKIDTEST';
    process.env['AWS_SECRET_ACCESS_KEY'] = 'secret-for-tests';
    delete process.env['AWS_PROFILE'];
    server = createServer((req: IncomingMessage, res: ServerResponse) => {
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk.toString()));
      req.on('end', () => {
        received.push(new URLSearchParams(body));
        const answer = answers.length > 1 ? (answers.shift() as Answer) : answers[0];
        res.writeHead(answer.status, { 'content-type': 'text/xml' }).end(answer.body);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    process.env = savedEnv;
    await new Promise((resolve) => server.close(resolve));
  });

  beforeEach(() => {
    received.length = 0;
  });

  const provider = (overrides: Partial<Ec2NodeProviderConfig> = {}) =>
    new Ec2NodeProvider({
      region: 'us-east-1',
      clusterName: 'sim-cluster',
      installationId: 'wire-test',
      imageId: 'ami-12345678',
      nodeBootstrap: 'al2',
      subnetIds: ['subnet-a'],
      securityGroupIds: ['sg-1'],
      endpoint,
      retry: { maxAttempts: 3, baseDelayMs: 1, maxDelayMs: 1 },
      consistency: { budgetMs: 0 },
      sleep: async () => undefined,
      ...overrides,
    });

  it('retries RequestLimitExceeded from EC2 and sends the same client token every time', async () => {
    const token = launchTokenFor('sd-wire-1-simulator-0', 'wire-test', 'subnet-a');
    answers = [
      { status: 503, body: errorXml('RequestLimitExceeded', 'Request limit exceeded.') },
      { status: 200, body: runInstancesXml('i-0abc', 'ip-10-0-0-5.ec2.internal') },
    ];

    await expect(provider().launchNode(request)).resolves.toEqual({ instanceId: 'i-0abc', nodeName: 'ip-10-0-0-5.ec2.internal' });

    expect(received.map((p) => [p.get('Action'), p.get('ClientToken')])).toEqual([
      ['RunInstances', token],
      ['RunInstances', token],
    ]);
    expect(received[0].get('TagSpecification.2.ResourceType')).toBe('volume');
    expect([received[0].get('MetadataOptions.HttpTokens'), received[0].get('MetadataOptions.HttpPutResponseHopLimit')]).toEqual(['required', '1']);
  });

  it('makes exactly maxAttempts requests when EC2 keeps throttling (the SDK adds none)', async () => {
    answers = [{ status: 503, body: errorXml('RequestLimitExceeded', 'Request limit exceeded.') }];

    const error = await provider().launchNode(request).catch((err: unknown) => err);

    expect(error).toBeInstanceOf(ProviderError);
    expect(error).toMatchObject({ code: 'RequestLimitExceeded', message: 'Request limit exceeded.', transient: true, attempts: 3 });
    expect(received).toHaveLength(3);
  });

  it('fails at once on a parameter error parsed from EC2 XML', async () => {
    answers = [{ status: 400, body: errorXml('InvalidAMIID.NotFound', "The image id '[ami-12345678]' does not exist") }];

    await expect(provider().launchNode(request)).rejects.toMatchObject({ code: 'InvalidAMIID.NotFound', transient: false, attempts: 1 });
    expect(received).toHaveLength(1);
  });

  it('reads the unknown ids out of a NotFound from EC2 XML: terminates the known one, confirms one terminated, leaves the unseen one for later', async () => {
    const describeXml =
      '<?xml version="1.0" encoding="UTF-8"?><DescribeInstancesResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>req-3</requestId>' +
      '<reservationSet><item><reservationId>r-1</reservationId><ownerId>123456789012</ownerId><instancesSet><item><instanceId>i-0abc</instanceId>' +
      '<instanceState><code>48</code><name>terminated</name></instanceState></item></instancesSet></item></reservationSet></DescribeInstancesResponse>';
    answers = [
      { status: 400, body: errorXml('InvalidInstanceID.NotFound', "The instance IDs 'i-0abc, i-0def' do not exist") },
      { status: 200, body: '<?xml version="1.0" encoding="UTF-8"?><TerminateInstancesResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>req-4</requestId><instancesSet/></TerminateInstancesResponse>' },
      { status: 200, body: describeXml },
    ];

    await expect(provider().terminateInstances('wire-1', ['i-0abc', 'i-0def', 'i-0123'])).rejects.toMatchObject({ code: 'InstanceNotVisible', transient: true });

    expect(received.map((p) => p.get('Action'))).toEqual(['TerminateInstances', 'TerminateInstances', 'DescribeInstances']);
    expect(received[1].get('InstanceId.1')).toBe('i-0123');
    expect([received[2].get('Filter.1.Name'), received[2].get('Filter.1.Value.1'), received[2].get('Filter.1.Value.2')]).toEqual(['instance-id', 'i-0abc', 'i-0def']);
  });

  it('treats a refused connection as transient', async () => {
    const closed = `http://127.0.0.1:${await freePort()}`;

    const error = await provider({ endpoint: closed }).launchNode(request).catch((err: unknown) => err);

    // Outside Jest the code is ECONNREFUSED; Jest's sandbox makes the SDK wrap Node's error.
    expect(error).toMatchObject({ code: expect.stringMatching(/^(ECONNREFUSED|NetworkError)$/), transient: true, attempts: 3 });
    expect((error as Error).message).toContain('ECONNREFUSED');
  });
});
