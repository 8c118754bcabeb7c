import { ApiException } from '@kubernetes/client-node';
import { ProviderError } from '../ports';

/** The parts of a Kubernetes `Status` body that explain a refusal. */
interface StatusBody {
  reason?: string;
  message?: string;
}

/** The HTTP status of an API refusal (also inside a classified error), or undefined for anything else. */
export const apiStatusCode = (error: unknown): number | undefined => {
  if (error instanceof ApiException) return error.code;
  return error instanceof ProviderError ? apiStatusCode(error.cause) : undefined;
};

/** The client keeps the response body as text; an API server answers with a JSON `Status`. */
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
 * and network errors are transient; refusals (400, 401, 403, 404, 409, 422) are permanent
 * and carry the API server's own message.
 */
export function classifyKubernetesError(error: unknown, doing?: string): ProviderError {
  if (error instanceof ProviderError) return error;
  const prefix = doing ? `${doing}: ` : '';
  if (error instanceof ApiException) {
    const status = statusBody(error);
    const code = status.reason || `Http${error.code}`;
    const message = status.message || `the API server answered HTTP ${error.code}`;
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
    return new ProviderError(code, `${prefix}${text}`, true, { cause: error });
  }
  return new ProviderError('KubernetesClientError', `${prefix}${text}`, false, { cause: error });
}
