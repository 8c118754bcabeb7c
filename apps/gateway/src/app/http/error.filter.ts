import { ArgumentsHost, Catch, ExceptionFilter, HttpException, HttpStatus, Logger } from '@nestjs/common';
import { IllegalTransitionError, NotFoundError, ValidationError } from '@simdeploy/domain';
import { ConcurrencyError, StoreUnavailableError, StreamDeletedError, StreamTruncatedError } from '@simdeploy/event-store';
import { ReadModelUnavailableError } from '@simdeploy/read-model';
import { TooMuchContentionError } from '@simdeploy/workflows';
import type { FastifyReply } from 'fastify';

export interface ErrorBody {
  statusCode: number;
  error: string;
  message: string | string[];
}

const body = (statusCode: number, message: string | string[]): ErrorBody => ({
  statusCode,
  error: HttpStatus[statusCode]?.toString() ?? 'Error',
  message,
});

/** Maps every error to a JSON answer; stack traces stay in the log, never go to a client. */
export function toErrorBody(error: unknown): ErrorBody {
  if (error instanceof HttpException) {
    const response = error.getResponse();
    const message = typeof response === 'object' && response !== null && 'message' in response ? (response as { message: string | string[] }).message : error.message;
    return body(error.getStatus(), message);
  }
  if (error instanceof ValidationError) return body(HttpStatus.BAD_REQUEST, error.message);
  if (error instanceof NotFoundError) return body(HttpStatus.NOT_FOUND, error.message);
  if (error instanceof IllegalTransitionError) return body(HttpStatus.CONFLICT, error.message);
  if (error instanceof ConcurrencyError || error instanceof TooMuchContentionError) {
    return body(HttpStatus.CONFLICT, 'the simulation changed meanwhile; try again');
  }
  if (error instanceof StoreUnavailableError) return body(HttpStatus.SERVICE_UNAVAILABLE, 'the event store is unavailable; try again');
  // An operator deleted or truncated the history in the store: the simulation is gone for good.
  if (error instanceof StreamDeletedError || error instanceof StreamTruncatedError) {
    return body(HttpStatus.GONE, `the history of simulation ${error.streamId} was deleted or truncated in the event store`);
  }
  if (error instanceof ReadModelUnavailableError) return body(HttpStatus.SERVICE_UNAVAILABLE, 'the read model is not ready (catching up with the event store after a start); try again shortly');
  const status = (error as { statusCode?: unknown }).statusCode;
  // Fastify's own errors (malformed JSON, body too large, wrong content type) carry a 4xx code.
  if (typeof status === 'number' && status >= 400 && status < 500) return body(status, (error as Error).message);
  return body(HttpStatus.INTERNAL_SERVER_ERROR, 'internal error');
}

@Catch()
export class ErrorFilter implements ExceptionFilter {
  private readonly logger = new Logger('http');

  catch(error: unknown, host: ArgumentsHost): void {
    const reply = host.switchToHttp().getResponse<FastifyReply>();
    const payload = toErrorBody(error);
    // 503 is an expected state (readiness while the read model catches up after a start), not a fault.
    if (payload.statusCode === HttpStatus.SERVICE_UNAVAILABLE) this.logger.warn(`503: ${error instanceof Error ? error.message : String(error)}`);
    else if (payload.statusCode >= 500) this.logger.error(error instanceof Error ? (error.stack ?? error.message) : String(error));
    void reply.status(payload.statusCode).send(payload);
  }
}
