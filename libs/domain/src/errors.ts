/**
 * Typed domain errors. `decide` returns them as values; one HTTP filter maps them to status codes.
 */
export abstract class DomainError extends Error {
  abstract readonly code: string;
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** The command is not allowed in the deployment's current status. */
export class IllegalTransitionError extends DomainError {
  readonly code = 'ILLEGAL_TRANSITION';
  constructor(
    readonly command: string,
    readonly status: string | null,
    readonly errorStatus: string | null,
    detail?: string,
  ) {
    super(
      `${command} is not allowed when status is ${status ?? 'absent'}` +
        (errorStatus ? ` and error status is ${errorStatus}` : '') +
        (detail ? `: ${detail}` : ''),
    );
  }
}

/** The command itself is malformed or breaks an invariant of the model. */
export class ValidationError extends DomainError {
  readonly code = 'VALIDATION';
}

/** The deployment does not exist. */
export class NotFoundError extends DomainError {
  readonly code = 'NOT_FOUND';
}

export const isDomainError = (value: unknown): value is DomainError => value instanceof DomainError;
