import type { ApiException } from '@kubernetes/client-node';
import { kubernetesClient } from '../client-libraries';
import { ProviderError } from '../ports';

/** One `details.causes` entry of a `Status`: the eviction API names a disruption budget there. */
export interface StatusCause {
  reason?: string;
  message?: string;
  field?: string;
}

/** The parts of a Kubernetes `Status` body that explain a refusal. */
interface StatusBody {
  reason?: string;
  message?: string;
  details?: { causes?: StatusCause[]; retryAfterSeconds?: number };
}

/** The HTTP status of an API refusal (also inside a classified error), or undefined for anything else. */
export const apiStatusCode = (error: unknown): number | undefined => {
  if (isApiException(error)) return error.code;
  return error instanceof ProviderError ? apiStatusCode(error.cause) : undefined;
};

/** The causes of an API refusal (also inside a classified error), empty for anything else. */
export const statusCausesOf = (error: unknown): StatusCause[] => {
  if (isApiException(error)) return statusBody(error).details?.causes ?? [];
  return error instanceof ProviderError ? statusCausesOf(error.cause) : [];
};

/** The server's `details.retryAfterSeconds` of a refusal (429), 0 when it gave none. */
export const retryAfterOf = (error: unknown): number => {
  if (isApiException(error)) return statusBody(error).details?.retryAfterSeconds ?? 0;
  return error instanceof ProviderError ? retryAfterOf(error.cause) : 0;
};

/** The eviction API's answer for a pod under several budgets: a 500 without a reason, not a server fault. */
export const MULTIPLE_BUDGETS_MESSAGE = 'more than one PodDisruptionBudget';

/**
 * Node's codes for a certificate the client does not trust: a wrong CA bundle or server
 * name in the kubeconfig, which no retry fixes.
 */
const TLS_TRUST_ERRORS = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_DECRYPT_CERT_SIGNATURE',
  'CERT_SIGNATURE_FAILURE',
  'CERT_NOT_YET_VALID',
  'CERT_HAS_EXPIRED',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'INVALID_CA',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

/** The client keeps the response body as text; an API server answers with a JSON `Status`. */
const isApiException = (error: unknown): error is ApiException<unknown> => error instanceof kubernetesClient().ApiException;

function statusBody(error: ApiException<unknown>): StatusBody {
  const body = error.body;
  if (typeof body === 'object' && body !== null) return body as StatusBody;
  if (typeof body !== 'string') return {};
  try {
    const parsed: unknown = JSON.parse(body);
    return typeof parsed === 'object' && parsed !== null ? (parsed as StatusBody) : {};
  } catch {
    return body.trim() ? { message: body.trim() } : {};
  }
}

const isTransientStatus = (code: number): boolean => code === 408 || code === 429 || code >= 500;

/**
 * Sorts any failure of a Kubernetes call: throttling (429), server trouble (5xx), timeouts
 * and network errors are transient; refusals (400, 401, 403, 404, 409, 410, 422), an
 * untrusted TLS certificate and the eviction API's "more than one PodDisruptionBudget" 500
 * are permanent and carry the API server's own message.
 */
export function classifyKubernetesError(error: unknown, doing?: string): ProviderError {
  if (error instanceof ProviderError) return error;
  const prefix = doing ? `${doing}: ` : '';
  if (isApiException(error)) {
    const status = statusBody(error);
    const message = status.message || `the API server answered HTTP ${error.code}`;
    if (error.code === 500 && message.includes(MULTIPLE_BUDGETS_MESSAGE)) {
      return new ProviderError('MultipleDisruptionBudgets', `${prefix}${message}`, false, { cause: error });
    }
    const code = status.reason || `Http${error.code}`;
    return new ProviderError(code, `${prefix}${message}`, isTransientStatus(error.code), { cause: error });
  }
  // Checked by shape: an AbortSignal's DOMException may come from another realm than Error.
  const { name, message, code: errno } = (typeof error === 'object' && error !== null ? error : {}) as {
    name?: unknown;
    message?: unknown;
    code?: unknown;
  };
  const text = typeof message === 'string' ? message : String(error);
  // node-fetch reports connection failures as FetchError; an aborted signal gives AbortError.
  if (name === 'FetchError' || name === 'AbortError') {
    const code = typeof errno === 'string' && errno ? errno : name;
    return new ProviderError(code, `${prefix}${text}`, !TLS_TRUST_ERRORS.has(code), { cause: error });
  }
  return new ProviderError('KubernetesClientError', `${prefix}${text}`, false, { cause: error });
}
