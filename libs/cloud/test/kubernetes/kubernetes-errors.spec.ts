import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CoreV1Api } from '@kubernetes/client-node';
import { freePort } from '@simdeploy/testing';
import nock from 'nock';
import { ProviderError, classifyKubernetesError } from '../../src';
import { FAKE_SERVER, FakeCluster, kubeConfigFor, resetFakeApi, status } from './fake-kubernetes-api';

beforeAll(() => {
  nock.disableNetConnect();
  nock.enableNetConnect('127.0.0.1');
});
afterEach(resetFakeApi);
afterAll(() => {
  nock.enableNetConnect();
  nock.restore();
});

/** The error the real client throws when the fake server answers `code` with a Status body. */
async function apiErrorFor(code: number, reason: string, message: string): Promise<unknown> {
  new FakeCluster().failNext('GET', /^\/api\/v1\/nodes$/, code, status(code, reason, message));
  return kubeConfigFor(FAKE_SERVER).makeApiClient(CoreV1Api).listNode().catch((e: unknown) => e);
}

describe('classifyKubernetesError', () => {
  it.each([
    [429, 'TooManyRequests', true],
    [500, 'InternalError', true],
    [503, 'ServiceUnavailable', true],
    [504, 'Timeout', true],
    [400, 'BadRequest', false],
    [401, 'Unauthorized', false],
    [403, 'Forbidden', false],
    [404, 'NotFound', false],
    [409, 'AlreadyExists', false],
    [422, 'Invalid', false],
  ])('HTTP %i (%s) is transient: %s, with the API message', async (code, reason, transient) => {
    const error = classifyKubernetesError(await apiErrorFor(code, reason, `the server says ${code}`), 'list nodes');
    expect(error).toBeInstanceOf(ProviderError);
    // 401 answers carry no body in this client, so the reason is derived from the status code.
    const expectedCode = code === 401 ? 'Http401' : reason;
    expect(error).toMatchObject({ code: expectedCode, transient });
    if (code !== 401) expect(error.message).toBe(`list nodes: the server says ${code}`);
  });

  it('treats an unreachable API server as transient', async () => {
    // A real connection to a closed local port: refused by the kernel, not by a mock.
    const port = await freePort();
    const api = kubeConfigFor(`https://127.0.0.1:${port}`).makeApiClient(CoreV1Api);
    const error = classifyKubernetesError(await api.listNode().catch((e: unknown) => e));
    expect(error).toMatchObject({ code: 'ECONNREFUSED', transient: true });
  });

  it('treats a TLS certificate the client cannot trust as permanent: retrying will not fix it', async () => {
    // A real HTTPS server on loopback with a throw-away self-signed certificate.
    const dir = mkdtempSync(join(tmpdir(), 'simdeploy-tls-'));
    try {
      execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=127.0.0.1', '-days', '1',
        '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { stdio: 'ignore' });
      const server = createServer({ key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) }, (_req, res) => res.end('{}'));
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      try {
        const { port } = server.address() as AddressInfo;
        const kubeConfig = kubeConfigFor(`https://127.0.0.1:${port}`);
        kubeConfig.clusters[0] = { ...kubeConfig.clusters[0], skipTLSVerify: false };
        const error = classifyKubernetesError(await kubeConfig.makeApiClient(CoreV1Api).listNode().catch((e: unknown) => e));
        expect(error).toMatchObject({ code: 'DEPTH_ZERO_SELF_SIGNED_CERT', transient: false });
        expect(error.message).toContain('self-signed certificate');
      } finally {
        server.closeAllConnections();
        await new Promise((resolve) => server.close(resolve));
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('passes a ProviderError through and treats anything else as a permanent client error', () => {
    const known = new ProviderError('X', 'already sorted', true);
    expect(classifyKubernetesError(known)).toBe(known);
    expect(classifyKubernetesError(new TypeError('bad input'))).toMatchObject({
      code: 'KubernetesClientError',
      transient: false,
      message: 'bad input',
    });
  });
});
