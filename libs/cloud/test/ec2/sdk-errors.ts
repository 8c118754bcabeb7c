import { EC2ServiceException } from '@aws-sdk/client-ec2';

/** What the SDK throws for an EC2 error response: the service exception named after the error code. */
export const ec2Error = (code: string, httpStatusCode: number, message = `${code} from EC2`): EC2ServiceException =>
  new EC2ServiceException({
    name: code,
    $fault: httpStatusCode >= 500 ? 'server' : 'client',
    $metadata: { httpStatusCode, requestId: 'req-1', attempts: 1, totalRetryDelay: 0 },
    message,
  });

/** What a connection failure looks like after the SDK's retry middleware: metadata without a status. */
export const networkError = (code = 'ECONNRESET'): Error =>
  Object.assign(new Error(`socket hang up (${code})`), { code, $metadata: { attempts: 1, totalRetryDelay: 0 } });
