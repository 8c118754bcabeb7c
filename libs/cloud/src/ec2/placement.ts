import { createHash } from 'node:crypto';

const digest = (...parts: string[]): Buffer => createHash('sha256').update(parts.join('\n')).digest();

/** EC2 allows ClientToken values of up to 64 ASCII characters. */
const MAX_CLIENT_TOKEN = 64;
const TOKEN_SUFFIX = 8;

/**
 * The configured subnets in the order a deployment's nodes try them. Deployments spread
 * evenly over the subnets (the start is a hash of the deployment id), and all nodes of one
 * deployment prefer the same subnet, so the simulator and its robots talk within one zone
 * (no cross-zone latency or transfer charges). The others follow as fallbacks, in turn.
 */
export function subnetOrderFor(deploymentId: string, subnetIds: readonly string[]): string[] {
  if (subnetIds.length === 0) return [];
  const start = digest('subnet', deploymentId).readUInt32BE(0) % subnetIds.length;
  return [...subnetIds.slice(start), ...subnetIds.slice(0, start)];
}

/**
 * The RunInstances ClientToken of one node in one subnet of one installation: the domain's
 * token (stable across retries) with a suffix from the installation and the subnet.
 *
 * - Per subnet, because RunInstances idempotency is zonal when a subnet is given: the same
 *   token in another zone launches a second instance, and in another subnet of the same
 *   zone it is refused (IdempotentParameterMismatch). Each subnet attempt has its own token,
 *   and repeating it with the same subnet always finds the instance it launched.
 * - Per installation, because tokens are unique per account and region: staging and
 *   production with a deployment of the same id must not share (or be refused) a machine.
 */
export function launchTokenFor(clientToken: string, installationId: string, subnetId: string | undefined): string {
  const suffix = digest('launch', installationId, subnetId ?? '', clientToken).toString('hex').slice(0, TOKEN_SUFFIX);
  return `${clientToken.slice(0, MAX_CLIENT_TOKEN - TOKEN_SUFFIX - 1)}-${suffix}`;
}
