import type { NodeRole } from '@simdeploy/domain';
import { DEPLOYMENT_TAG, NODE_ROLE_TAG } from '../ports';

/** Label that groups a deployment's nodes; the deployment id is the group. */
export const GROUP_ID_LABEL = 'simdeploy.io/group-id';

export interface BootstrapContext {
  clusterName: string;
  deploymentId: string;
  owner: string;
  role: NodeRole;
  index: number;
}

/** Single-quotes a word for /bin/sh, so no value can end the quoting or run anything. */
export const shellQuote = (word: string): string => `'${word.replace(/'/g, `'\\''`)}'`;

/**
 * The default user data (plain text; the provider base64-encodes it): joins the machine to
 * the EKS cluster through the EKS-optimised AMI's bootstrap script, with the labels that let
 * the pod runtime find and pin to the deployment's nodes.
 */
export function eksBootstrapUserData(ctx: BootstrapContext): string {
  const labels = [
    `${DEPLOYMENT_TAG}=${ctx.deploymentId}`,
    `${NODE_ROLE_TAG}=${ctx.role}`,
    `${GROUP_ID_LABEL}=${ctx.deploymentId}`,
  ].join(',');
  return [
    '#!/bin/bash',
    'set -o errexit -o xtrace',
    `/etc/eks/bootstrap.sh ${shellQuote(ctx.clusterName)} --kubelet-extra-args ${shellQuote(`--node-labels=${labels}`)}`,
    '',
  ].join('\n');
}
