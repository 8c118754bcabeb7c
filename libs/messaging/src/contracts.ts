export const CommandKind = { Launch: 'launch', Terminate: 'terminate', HandleFailure: 'handle-failure' } as const;
export type CommandKind = (typeof CommandKind)[keyof typeof CommandKind];

export const COMMAND_KINDS: readonly CommandKind[] = Object.values(CommandKind);

export const isCommandKind = (value: unknown): value is CommandKind =>
  typeof value === 'string' && (COMMAND_KINDS as readonly string[]).includes(value);

export interface DeploymentCommandMessage {
  deploymentId: string;
  kind: CommandKind;
  issuedAt: string;
  correlationId?: string;
  /** why it was sent: 'api' | 'reconciler' | 'step' */
  reason?: string;
}

/**
 * What a command handler may resolve with. Nothing or `{ done: true }` acks the
 * command; `{ retryAfterMs }` hands it back to the queue to be delivered again
 * later, which is how a step waits for slow infrastructure without holding a worker.
 */
export type CommandOutcome = void | undefined | { done: true } | { retryAfterMs: number };
