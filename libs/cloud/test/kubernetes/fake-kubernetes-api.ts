import { KubeConfig } from '@kubernetes/client-node';
import nock from 'nock';

/** A made-up API server: nock answers for it, nothing resolves or leaves the machine. */
export const FAKE_SERVER = 'https://k8s.test:6443';
export const TEST_TOKEN = 'test-token';

export function kubeConfigFor(server: string): KubeConfig {
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromOptions({
    clusters: [{ name: 'test', server, skipTLSVerify: true }],
    users: [{ name: 'test', token: TEST_TOKEN }],
    contexts: [{ name: 'test', cluster: 'test', user: 'test' }],
    currentContext: 'test',
  });
  return kubeConfig;
}

export interface RecordedRequest {
  method: string;
  /** Path with its query string, decoded, e.g. `/api/v1/nodes?labelSelector=a=b`. */
  path: string;
  headers: Record<string, string | string[] | undefined>;
  body: unknown;
}

/**
 * Interceptors for the fake server that insist on the bearer token, plus the requests they
 * answered in arrival order, so a test can assert what was sent and in which order.
 */
export function fakeKubernetesApi() {
  const requests: RecordedRequest[] = [];
  const scope = nock(FAKE_SERVER, { reqheaders: { authorization: `Bearer ${TEST_TOKEN}` } });
  scope.on('request', (req: { method: string; path: string; headers: RecordedRequest['headers'] }, _interceptor: unknown, body: string) => {
    requests.push({
      method: req.method,
      path: decodeURIComponent(req.path),
      headers: req.headers,
      body: body ? JSON.parse(body) : undefined,
    });
  });
  const calls = () => requests.map((r) => `${r.method} ${r.path}`);
  const bodyOf = (method: string, path: string) => requests.find((r) => r.method === method && r.path === path)?.body;
  return { scope, requests, calls, bodyOf };
}

/** The `Status` an API server sends with a refusal. */
export const status = (code: number, reason: string, message: string) => ({
  kind: 'Status',
  apiVersion: 'v1',
  metadata: {},
  status: 'Failure',
  reason,
  message,
  code,
});

export const JSON_HEADERS = { 'content-type': 'application/json' };
