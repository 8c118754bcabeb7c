import { Status } from '@simdeploy/domain';
import { CommandKind } from '@simdeploy/messaging';
import { waitFor } from '@simdeploy/testing';
import { randomUUID } from 'node:crypto';
import { InMemoryReadModel, Projector } from '@simdeploy/read-model';
import { Reconciler, SystemClock } from '@simdeploy/workflows';
import { TestSystem } from './support/system';

describe('Reconciler', () => {
  let sys: TestSystem;
  const readModel = new InMemoryReadModel();
  let projector: Projector;

  const active = () => readModel.active();
  const reconciler = (graceMs: number) =>
    new Reconciler(active, sys.handler, sys.dispatcher, sys.bus, sys.scheduler, new SystemClock(), { graceMs });

  beforeAll(async () => {
    // No launcher yet: commands stay queued until a test starts one.
    sys = await TestSystem.start({ services: ['terminator', 'error-handler'] });
    projector = new Projector(sys.store, readModel);
    projector.start();
  });

  afterAll(async () => {
    await projector?.stop();
    await sys?.close();
  });

  const seen = (id: string) => waitFor(() => readModel.get(id), { description: `${id} in the read model` });

  it('leaves a deployment alone within the grace period, and one whose command is queued', async () => {
    const lost = await sys.launch({ send: false });
    const queued = await sys.launch();
    await Promise.all([seen(lost), seen(queued)]);

    expect((await reconciler(60_000).runOnce()).resent).toEqual([]);
    const report = await reconciler(0).runOnce();
    expect(report.resent).toEqual([`${lost}:${CommandKind.Launch}`]);
    expect(await sys.bus.hasPending(CommandKind.Launch, queued)).toBe(true);
  });

  it('re-sends a command lost between the append and the publish, once, and the deployment completes', async () => {
    const id = await sys.launch({ send: false });
    await seen(id);
    expect(await sys.bus.hasPending(CommandKind.Launch, id)).toBe(false);

    const first = await reconciler(0).runOnce();
    const second = await reconciler(0).runOnce();
    expect(first.resent).toContain(`${id}:${CommandKind.Launch}`);
    // Now pending: no second copy.
    expect(second.resent).not.toContain(`${id}:${CommandKind.Launch}`);
    expect(await sys.bus.hasPending(CommandKind.Launch, id)).toBe(true);

    await sys.startService('launcher');
    const running = await sys.until(id, (s) => s.status === Status.Running, 'running after the re-sent command');
    expect(running.errorStatus).toBeNull();
    await sys.stop(id);
    await sys.until(id, (s) => s.status === Status.Terminated, 'terminated');
    expect(await sys.held(id)).toEqual({ instances: [], pods: [] });
  });

  it('re-sends a lost terminate command and a lost failure command', async () => {
    const stopping = await sys.launch({ send: false });
    await sys.exec(stopping, 'RequestStop', { reason: 'user' });
    const failed = randomUUID();
    sys.faults.add({ step: 'launchNode', mode: 'fail', deploymentId: failed });
    await sys.launch({ id: failed, send: false });
    await sys.exec(failed, 'StartLaunchingNodes', {});
    await sys.exec(failed, 'RecordFailure', {
      source: 'worker',
      stage: Status.LaunchingNodes,
      step: 'launchNode',
      error: { code: 'InjectedFault', message: 'lost on the way', transient: false },
      attempt: 1,
    });
    await waitFor(async () => (await readModel.get(stopping))?.status === Status.ToBeTerminated && (await readModel.get(failed))?.errorStatus, {
      description: 'both in the read model',
    });

    const report = await reconciler(0).runOnce();
    expect(report.resent).toEqual(expect.arrayContaining([`${stopping}:${CommandKind.Terminate}`, `${failed}:${CommandKind.HandleFailure}`]));
    for (const id of [stopping, failed]) await sys.until(id, (s) => s.status === Status.Terminated, 'terminated');
    expect((await sys.state(failed)).errorStatus).toBe('InitializationFailed');
  });
});
