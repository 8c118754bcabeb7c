import { Actor, DomainError, SimDeploymentCommand, Status, command } from '@simdeploy/domain';
import { JetStreamEventStore } from '@simdeploy/event-store';
import { DeploymentCommandHandler } from '@simdeploy/workflows';
import { CommandKind, JetStreamCommandBus } from '@simdeploy/messaging';
import { waitFor } from '@simdeploy/testing';
import { randomUUID } from 'node:crypto';
import { TestGateway, startTestGateway, token } from './support/test-gateway';

const SERVICE: Actor = { subject: 'service:error-handler', roles: ['service'] };

describe('admin review over HTTP', () => {
  let gateway: TestGateway;
  let handler: DeploymentCommandHandler;
  let bus: JetStreamCommandBus;
  let admin: string;
  let user: string;

  const call = async (method: string, path: string, auth: string, body?: unknown) => {
    const response = await fetch(`${gateway.base}${path}`, {
      method,
      headers: { authorization: `Bearer ${auth}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    return { status: response.status, json: (await response.json()) as any };
  };

  const exec = async <T extends SimDeploymentCommand['type']>(id: string, type: T, data: Extract<SimDeploymentCommand, { type: T }>['data']) => {
    const result = await handler.handle(id, command(type, data as never, { now: new Date().toISOString(), by: SERVICE }));
    if (result instanceof DomainError) throw result;
  };

  /** A launch that failed in LaunchingPods, whose rollback then failed deleting the pods. */
  async function inAdminReview(): Promise<string> {
    const id = randomUUID();
    const spec = { world: 'w.sdf', simulatorImage: 'gz', robots: [], nodeInstanceType: 'g4dn.xlarge', labels: {} };
    await exec(id, 'RequestLaunch', { deploymentId: id, owner: 'alice', spec, provider: 'local' });
    await exec(id, 'StartLaunchingNodes', {});
    await exec(id, 'RecordInstance', { role: 'simulator', index: 0, instanceId: 'i-0abc', nodeName: 'node-a' });
    await exec(id, 'StartLaunchingPods', {});
    const error = { code: 'InjectedFault', message: 'injected', transient: false };
    await exec(id, 'RecordFailure', { source: 'worker', stage: Status.LaunchingPods, step: 'waitPodsReady', error, attempt: 1 });
    await exec(id, 'StartDeletingPods', {});
    await exec(id, 'RecordFailure', { source: 'error-handler', stage: Status.DeletingPods, step: 'deleteWorkload', error, attempt: 3 });
    return id;
  }

  beforeAll(async () => {
    gateway = await startTestGateway('ADM');
    const { config, nc } = gateway;
    handler = new DeploymentCommandHandler(await JetStreamEventStore.create(nc, { streamName: config.EVENTS_STREAM, subjectPrefix: config.EVENTS_SUBJECT_PREFIX }));
    bus = new JetStreamCommandBus(nc, { streamName: config.COMMANDS_STREAM, subjectPrefix: config.COMMANDS_SUBJECT_PREFIX });
    [admin, user] = await Promise.all([token('root', ['admin']), token('alice')]);
  });

  afterAll(async () => {
    await gateway?.close();
  });

  it('lists a deployment in AdminReview with its failure history and the leftovers it still holds', async () => {
    const id = await inAdminReview();
    const reviews = await waitFor(async () => {
      const r = await call('GET', '/admin/reviews', admin);
      return r.json.find?.((v: any) => v.id === id);
    }, { description: 'the review listed' });

    expect(reviews).toMatchObject({ status: 'DeletingPods', errorStatus: 'AdminReview' });
    expect(reviews.failures.map((f: any) => [f.kind, f.stage, f.step])).toEqual([
      [expect.any(String), 'LaunchingPods', 'waitPodsReady'],
      [expect.any(String), 'DeletingPods', 'deleteWorkload'],
    ]);
    expect(reviews.held).toEqual({
      instances: ['i-0abc'],
      nodes: ['node-a'],
      pods: [`sim-${id}-gzserver`],
      services: [`sim-${id}-gzserver`],
      networkPolicies: [`sim-${id}-gzserver`],
    });
    expect((await call('GET', '/admin/reviews', user)).status).toBe(403);
  });

  it('retry appends CleanupRetryRequested and queues a HandleFailure command; resolve ends the review with a comment', async () => {
    const retried = await inAdminReview();
    expect(await bus.hasPending(CommandKind.HandleFailure, retried)).toBe(false);
    const retry = await call('POST', `/admin/simulations/${retried}/retry`, admin);
    expect(retry.status).toBe(202);
    expect(retry.json).toMatchObject({ id: retried, errorStatus: 'InitializationFailed' });
    expect(await bus.hasPending(CommandKind.HandleFailure, retried)).toBe(true);

    const resolved = await inAdminReview();
    const resolve = await call('POST', `/admin/simulations/${resolved}/resolve`, admin, { comment: 'deleted by hand' });
    expect(resolve.status).toBe(200);
    expect(resolve.json).toMatchObject({ status: 'Terminated', resolution: { by: 'root', comment: 'deleted by hand' } });
    const events = await call('GET', `/simulations/${resolved}/events`, admin);
    expect(events.json.at(-1)).toMatchObject({ type: 'AdminReviewResolved' });
  });
});
