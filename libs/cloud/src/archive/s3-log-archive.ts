import type { S3Client } from '@aws-sdk/client-s3';
import { s3Client } from '../client-libraries';
import { LogArchive, ProviderError } from '../ports';

export interface S3LogArchiveConfig {
  bucket: string;
  /** Put before `<deploymentId>/<pod>.log`; a trailing `/` is added when missing. Default `simdeploy/logs/`. */
  prefix?: string;
  region?: string;
  /** How much of an object's end a read fetches at most, so a tail of a long log costs one small GET. */
  readMaxBytes?: number;
}

const SAFE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,252}$/;
const DEFAULT_READ_MAX_BYTES = 1024 * 1024;

// Throttling and S3's own faults clear up on their own; everything else (AccessDenied, NoSuchBucket) needs an operator.
const TRANSIENT = new Set(['SlowDown', 'ServiceUnavailable', 'InternalError', 'RequestTimeout', 'RequestTimeTooSkewed', 'TimeoutError', 'ThrottlingException']);

interface SdkError {
  name?: string;
  message?: string;
  $metadata?: { httpStatusCode?: number };
}

function toProviderError(error: unknown, what: string): ProviderError {
  const { name = 'UnknownError', message = String(error), $metadata } = (typeof error === 'object' && error !== null ? error : {}) as SdkError;
  const status = $metadata?.httpStatusCode;
  // No HTTP status at all: the request never got an answer (network), worth another try.
  const transient = TRANSIENT.has(name) || status === undefined || status >= 500;
  return new ProviderError(`S3${name}`, `${what}: ${message}`, transient, { cause: error });
}

/** `bytes 100-65635/65636` -> 100 */
const rangeStart = (contentRange: string | undefined): number => {
  const match = /^bytes (\d+)-\d+\/\d+$/.exec(contentRange ?? '');
  return match ? Number(match[1]) : 0;
};

/**
 * Archived logs as S3 objects `<prefix><deploymentId>/<pod>.log` (text, one line per line).
 * The bucket's own settings (encryption, lifecycle expiry, object lock) apply; the workers
 * need s3:PutObject on the prefix, the gateway s3:GetObject.
 */
export class S3LogArchive extends LogArchive {
  private readonly prefix: string;
  private readonly readMaxBytes: number;

  constructor(
    private readonly config: S3LogArchiveConfig,
    private readonly client: S3Client = new (s3Client().S3Client)(config.region ? { region: config.region } : {}),
  ) {
    super();
    const prefix = config.prefix ?? 'simdeploy/logs/';
    this.prefix = prefix === '' || prefix.endsWith('/') ? prefix : `${prefix}/`;
    this.readMaxBytes = config.readMaxBytes ?? DEFAULT_READ_MAX_BYTES;
  }

  async store(deploymentId: string, podName: string, lines: readonly string[], signal?: AbortSignal): Promise<string> {
    const key = this.keyOf(deploymentId, podName);
    try {
      await this.client.send(
        new (s3Client().PutObjectCommand)({
          Bucket: this.config.bucket,
          Key: key,
          Body: lines.length > 0 ? `${lines.join('\n')}\n` : '',
          ContentType: 'text/plain; charset=utf-8',
        }),
        { abortSignal: signal },
      );
    } catch (error) {
      throw toProviderError(error, `archiving the log of ${podName} to s3://${this.config.bucket}/${key}`);
    }
    return `s3://${this.config.bucket}/${key}`;
  }

  async read(deploymentId: string, podName: string, tail: number, signal?: AbortSignal): Promise<string[] | null> {
    const key = this.keyOf(deploymentId, podName);
    let text: string;
    let cutAtStart: boolean;
    try {
      const answer = await this.client.send(
        new (s3Client().GetObjectCommand)({ Bucket: this.config.bucket, Key: key, Range: `bytes=-${this.readMaxBytes}` }),
        { abortSignal: signal },
      );
      text = (await answer.Body?.transformToString('utf8')) ?? '';
      cutAtStart = rangeStart(answer.ContentRange) > 0;
    } catch (error) {
      const { name, $metadata } = (error ?? {}) as SdkError;
      if (name === 'NoSuchKey' || (name !== 'NoSuchBucket' && $metadata?.httpStatusCode === 404)) return null;
      // A suffix range of an empty object cannot be satisfied: the archive holds no lines.
      if (name === 'InvalidRange' || $metadata?.httpStatusCode === 416) return [];
      throw toProviderError(error, `reading the archived log of ${podName} from s3://${this.config.bucket}/${key}`);
    }
    const lines = text.split('\n');
    if (lines.at(-1) === '') lines.pop();
    // The first line of a cut read is the end of a longer one.
    if (cutAtStart) lines.shift();
    return lines.slice(Math.max(0, lines.length - tail));
  }

  private keyOf(deploymentId: string, podName: string): string {
    if (!SAFE_NAME.test(deploymentId) || !SAFE_NAME.test(podName)) throw new TypeError(`not an archivable name: ${deploymentId}/${podName}`);
    return `${this.prefix}${deploymentId}/${podName}.log`;
  }
}
