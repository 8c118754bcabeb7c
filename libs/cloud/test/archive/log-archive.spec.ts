import { GetObjectCommand, NoSuchBucket, NoSuchKey, PutObjectCommand, S3Client, S3ServiceException } from '@aws-sdk/client-s3';
// The SDK's own stream wrapper (a dependency of @aws-sdk/client-s3), so a mocked Body is what GetObject really returns.
import { sdkStreamMixin } from '@smithy/core/serde';
import { mockClient } from 'aws-sdk-client-mock';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { LocalFolderLogArchive, LogArchive, ProviderError, S3LogArchive } from '../../src';

const DEPLOYMENT = 'd6c1c2a0-1b2c-4d5e-8f90-a1b2c3d4e5f6';
const POD = `sim-${DEPLOYMENT}-gzserver`;

/** Objects kept by key, answered the way S3 answers a suffix-range GET. */
function s3Bucket(client: S3Client, bucket: string) {
  const objects = new Map<string, string>();
  const s3 = mockClient(client);
  s3.on(PutObjectCommand).callsFake((input: { Bucket: string; Key: string; Body: string }) => {
    if (input.Bucket !== bucket) throw new NoSuchBucket({ message: 'The specified bucket does not exist', $metadata: { httpStatusCode: 404 } });
    objects.set(input.Key, input.Body);
    return { ETag: '"0123"', $metadata: { httpStatusCode: 200 } };
  });
  s3.on(GetObjectCommand).callsFake((input: { Key: string; Range?: string }) => {
    const text = objects.get(input.Key);
    if (text === undefined) throw new NoSuchKey({ message: 'The specified key does not exist.', $metadata: { httpStatusCode: 404 } });
    const body = Buffer.from(text);
    const suffix = Number(/^bytes=-(\d+)$/.exec(input.Range ?? '')?.[1] ?? body.length);
    if (body.length === 0) throw new S3ServiceException({ name: 'InvalidRange', $fault: 'client', message: 'The requested range is not satisfiable', $metadata: { httpStatusCode: 416 } });
    const start = Math.max(0, body.length - suffix);
    return {
      Body: sdkStreamMixin(Readable.from([body.subarray(start)])),
      ContentRange: `bytes ${start}-${body.length - 1}/${body.length}`,
      $metadata: { httpStatusCode: 206 },
    };
  });
  return { s3, objects };
}

describe.each<[string, () => { archive: LogArchive; done: () => void }]>([
  [
    'local folder',
    () => {
      const dir = mkdtempSync(join(tmpdir(), 'simdeploy-archive-'));
      return { archive: new LocalFolderLogArchive(dir), done: () => rmSync(dir, { recursive: true, force: true }) };
    },
  ],
  [
    'S3',
    () => {
      const client = new S3Client({ region: 'eu-west-1' });
      const { s3 } = s3Bucket(client, 'logs');
      return { archive: new S3LogArchive({ bucket: 'logs', region: 'eu-west-1' }, client), done: () => s3.restore() };
    },
  ],
])('the %s log archive', (_name, make) => {
  let archive: LogArchive;
  let done: () => void;

  beforeEach(() => ({ archive, done } = make()));
  afterEach(() => done());

  it('gives back the last lines of what it stored, and null for a pod it never stored', async () => {
    await archive.store(DEPLOYMENT, POD, ['one', 'two', 'three']);
    expect(await archive.read(DEPLOYMENT, POD, 2)).toEqual(['two', 'three']);
    expect(await archive.read(DEPLOYMENT, POD, 100)).toEqual(['one', 'two', 'three']);
    expect(await archive.read(DEPLOYMENT, `sim-${DEPLOYMENT}-robot-x1`, 10)).toBeNull();
  });

  it('keeps an empty log as archived with no lines, and a second store replaces the first', async () => {
    await archive.store(DEPLOYMENT, POD, []);
    expect(await archive.read(DEPLOYMENT, POD, 10)).toEqual([]);
    await archive.store(DEPLOYMENT, POD, ['again']);
    expect(await archive.read(DEPLOYMENT, POD, 10)).toEqual(['again']);
  });

  it('refuses names that could walk out of the deployment', async () => {
    await expect(archive.store(DEPLOYMENT, '../other', ['x'])).rejects.toThrow(/not an archivable name/);
    await expect(archive.read('../etc', POD, 1)).rejects.toThrow(/not an archivable name/);
  });
});

describe('the S3 log archive', () => {
  const client = new S3Client({ region: 'eu-west-1' });
  let bucket: ReturnType<typeof s3Bucket>;

  beforeEach(() => {
    bucket = s3Bucket(client, 'simdeploy-logs');
  });
  afterEach(() => bucket.s3.restore());

  it('puts one text object per pod under the prefix and answers its s3:// location', async () => {
    const archive = new S3LogArchive({ bucket: 'simdeploy-logs', prefix: 'prod-eu' }, client);
    const location = await archive.store(DEPLOYMENT, POD, ['a', 'b']);
    expect(location).toBe(`s3://simdeploy-logs/prod-eu/${DEPLOYMENT}/${POD}.log`);
    expect(bucket.s3.commandCalls(PutObjectCommand)[0]?.args[0].input).toEqual({
      Bucket: 'simdeploy-logs',
      Key: `prod-eu/${DEPLOYMENT}/${POD}.log`,
      Body: 'a\nb\n',
      ContentType: 'text/plain; charset=utf-8',
    });
  });

  it('reads only the end of a long log and drops the line the cut went through', async () => {
    const archive = new S3LogArchive({ bucket: 'simdeploy-logs', readMaxBytes: 20 }, client);
    await archive.store(DEPLOYMENT, POD, ['a long first line', 'line-2', 'line-3']);
    // The last 20 bytes are "t line\nline-2\nline-3\n": "t line" is half a line.
    expect(await archive.read(DEPLOYMENT, POD, 10)).toEqual(['line-2', 'line-3']);
    expect(bucket.s3.commandCalls(GetObjectCommand)[0]?.args[0].input).toMatchObject({ Range: 'bytes=-20' });
  });

  it('reports a bucket that is missing as a permanent failure and S3 throttling as transient', async () => {
    const missing = new S3LogArchive({ bucket: 'no-such-bucket' }, client);
    const refused = await missing.store(DEPLOYMENT, POD, ['x']).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(ProviderError);
    expect(refused).toMatchObject({ code: 'S3NoSuchBucket', transient: false, message: expect.stringContaining('s3://no-such-bucket/') });

    bucket.s3.on(GetObjectCommand).rejects(new S3ServiceException({ name: 'SlowDown', $fault: 'server', message: 'Please reduce your request rate.', $metadata: { httpStatusCode: 503 } }));
    await expect(new S3LogArchive({ bucket: 'simdeploy-logs' }, client).read(DEPLOYMENT, POD, 1)).rejects.toMatchObject({ code: 'S3SlowDown', transient: true });
  });
});
