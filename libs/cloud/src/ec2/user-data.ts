import type { NodeRole } from '@simdeploy/domain';
import { DEDICATED_TAINT_KEY, DEPLOYMENT_TAG, NODE_ROLE_TAG } from '../ports';

/** Label that groups a deployment's nodes; the deployment id is the group. */
export const GROUP_ID_LABEL = 'simdeploy.io/group-id';

/**
 * How a node joins the cluster:
 * - `al2023`: Amazon Linux 2023 EKS images (the default since Kubernetes 1.30): a `nodeadm`
 *   NodeConfig in MIME multipart user data.
 * - `al2`: Amazon Linux 2 EKS images: `/etc/eks/bootstrap.sh`.
 * - `launch-template`: the launch template's own user data; the provider sends none.
 */
export type NodeBootstrap = 'al2023' | 'al2' | 'launch-template';

/** What `aws eks describe-cluster` reports; nodeadm needs all three, bootstrap.sh looks them up without. */
export interface EksClusterDetails {
  apiServerEndpoint: string;
  /** The cluster's CA bundle, base64 (`cluster.certificateAuthority.data`). */
  certificateAuthority: string;
  /** The cluster's service CIDR (`kubernetesNetworkConfig.serviceIpv4Cidr`); the DNS address is derived from it. */
  serviceCidr: string;
}

export interface BootstrapContext {
  clusterName: string;
  deploymentId: string;
  owner: string;
  role: NodeRole;
  index: number;
  cluster?: EksClusterDetails;
}

/** Single-quotes a word for /bin/sh, so no value can end the quoting or run anything. */
export const shellQuote = (word: string): string => `'${word.replace(/'/g, `'\\''`)}'`;

/**
 * The labels the kubelet registers with, so the pod runtime can find the deployment's nodes.
 * Only simdeploy.io/ keys: kubelets may not set node-restriction.kubernetes.io/ labels, the
 * control plane adds those once the node has joined.
 */
export const nodeLabelsFlag = (ctx: BootstrapContext): string =>
  `--node-labels=${[`${DEPLOYMENT_TAG}=${ctx.deploymentId}`, `${NODE_ROLE_TAG}=${ctx.role}`, `${GROUP_ID_LABEL}=${ctx.deploymentId}`].join(',')}`;

/** The node is the deployment's alone from the moment it registers. */
export const dedicatedTaintFlag = (ctx: BootstrapContext): string => `--register-with-taints=${DEDICATED_TAINT_KEY}=${ctx.deploymentId}:NoSchedule`;

/** The cluster DNS service address EKS uses: the tenth address of the service CIDR (IPv4 only). */
export function clusterDnsIp(serviceCidr: string): string | undefined {
  const match = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(serviceCidr);
  if (!match) return undefined;
  const [a, b, c, d] = match.slice(1, 5).map(Number) as [number, number, number, number];
  const bits = Number(match[5]);
  const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
  const dns = ((((a << 24) | (b << 16) | (c << 8) | d) & mask) + 10) >>> 0;
  return [dns >>> 24, (dns >>> 16) & 255, (dns >>> 8) & 255, dns & 255].join('.');
}

const BOUNDARY = 'SIMDEPLOY-NODE-BOUNDARY';

// A YAML double-quoted scalar is a JSON string, so JSON escaping quotes any value safely.
const yamlString = (value: string): string => JSON.stringify(value);

/**
 * AL2023: a nodeadm NodeConfig (apiVersion node.eks.aws/v1alpha1) with the cluster's
 * coordinates and the kubelet flags for labels and the deployment taint, plus a shell part
 * that powers the machine off when the image has no nodeadm: such a node would never join,
 * and a stopped machine fails the launch at once with a reason instead of a timeout.
 */
export function al2023UserData(ctx: BootstrapContext & { cluster: EksClusterDetails }): string {
  const { cluster } = ctx;
  const nodeConfig = [
    '---',
    'apiVersion: node.eks.aws/v1alpha1',
    'kind: NodeConfig',
    'spec:',
    '  cluster:',
    `    name: ${yamlString(ctx.clusterName)}`,
    `    apiServerEndpoint: ${yamlString(cluster.apiServerEndpoint)}`,
    `    certificateAuthority: ${yamlString(cluster.certificateAuthority)}`,
    `    cidr: ${yamlString(cluster.serviceCidr)}`,
    '  kubelet:',
    '    flags:',
    `      - ${yamlString(nodeLabelsFlag(ctx))}`,
    `      - ${yamlString(dedicatedTaintFlag(ctx))}`,
  ];
  const guard = [
    '#!/bin/sh',
    'if ! command -v nodeadm >/dev/null 2>&1; then',
    `  echo ${shellQuote('simdeploy: nodeadm not found: this is not an Amazon Linux 2023 EKS image, the node cannot join; powering off')} >&2`,
    '  poweroff',
    'fi',
  ];
  return [
    'MIME-Version: 1.0',
    `Content-Type: multipart/mixed; boundary="${BOUNDARY}"`,
    '',
    `--${BOUNDARY}`,
    'Content-Type: application/node.eks.aws',
    '',
    ...nodeConfig,
    '',
    `--${BOUNDARY}`,
    'Content-Type: text/x-shellscript; charset="us-ascii"',
    '',
    ...guard,
    '',
    `--${BOUNDARY}--`,
    '',
  ].join('\n');
}

/**
 * AL2: the EKS-optimised AMI's bootstrap script with the labels and the taint; with the
 * cluster's details when configured (otherwise the script asks EKS for them). A machine
 * whose script is missing or fails powers itself off, as on AL2023.
 */
export function al2UserData(ctx: BootstrapContext): string {
  const cluster = ctx.cluster;
  const dnsIp = cluster ? clusterDnsIp(cluster.serviceCidr) : undefined;
  const args = [
    shellQuote(ctx.clusterName),
    ...(cluster ? ['--apiserver-endpoint', shellQuote(cluster.apiServerEndpoint), '--b64-cluster-ca', shellQuote(cluster.certificateAuthority)] : []),
    ...(dnsIp ? ['--dns-cluster-ip', shellQuote(dnsIp)] : []),
    '--kubelet-extra-args',
    shellQuote(`${nodeLabelsFlag(ctx)} ${dedicatedTaintFlag(ctx)}`),
  ];
  return [
    '#!/bin/bash',
    'set -o xtrace',
    'if [ ! -x /etc/eks/bootstrap.sh ]; then',
    `  echo ${shellQuote('simdeploy: /etc/eks/bootstrap.sh not found: this is not an Amazon Linux 2 EKS image, the node cannot join; powering off')} >&2`,
    '  poweroff',
    '  exit 1',
    'fi',
    `/etc/eks/bootstrap.sh ${args.join(' ')} || {`,
    `  echo ${shellQuote('simdeploy: /etc/eks/bootstrap.sh failed, the node cannot join; powering off')} >&2`,
    '  poweroff',
    '}',
    '',
  ].join('\n');
}
