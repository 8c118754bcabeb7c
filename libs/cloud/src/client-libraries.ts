import type * as KubernetesClient from '@kubernetes/client-node';
import type * as Ec2Client from '@aws-sdk/client-ec2';
import type * as S3Client from '@aws-sdk/client-s3';

/**
 * The cloud client libraries, each loaded on its first use rather than when this package is
 * imported. Measured on Node 20: the Kubernetes client costs 0.4 s and about 70 MB of RSS, the EC2
 * client 0.2 s and 75 MB, the S3 client 20 MB; a service on the local or simulated runtime (every
 * service under `npm start`, every test) never calls them. Only the adapters that use them load them.
 */
function onFirstUse<T>(load: () => T): () => T {
  let loaded: T | undefined;
  return () => (loaded ??= load());
}

export const kubernetesClient = onFirstUse(() => require('@kubernetes/client-node') as typeof KubernetesClient);
export const ec2Client = onFirstUse(() => require('@aws-sdk/client-ec2') as typeof Ec2Client);
export const s3Client = onFirstUse(() => require('@aws-sdk/client-s3') as typeof S3Client);
