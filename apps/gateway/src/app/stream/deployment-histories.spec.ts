import { DomainError, SimDeploymentCommand, SimulationSpec, command } from '@simdeploy/domain';
import { InMemoryEventStore } from '@simdeploy/event-store';
import { DeploymentCommandHandler } from '@simdeploy/workflows';
import { DeploymentHistories } from './deployment-histories';

const SPEC: SimulationSpec = { world: 'w.sdf', simulatorImage: 'gz:1', robots: [], nodeInstanceType: 'g4dn.xlarge', labels: {} };
const BY = { subject: 'alice', roles: [] };

describe('DeploymentHistories', () => {
  const store = new InMemoryEventStore();
  const handler = new DeploymentCommandHandler(store);
  const run = async (cmd: SimDeploymentCommand) => {
    const result = await handler.handle('d1', cmd);
    if (result instanceof DomainError) throw result;
  };

  beforeAll(async () => {
    const meta = { now: new Date().toISOString(), by: BY };
    await run(command('RequestLaunch', { deploymentId: 'd1', owner: 'alice', spec: SPEC, provider: 'local' }, meta));
    await run(command('StartLaunchingNodes', {}, meta));
    await run(command('RequestStop', { reason: 'user' }, meta));
  });

  it('folds each event into the state it left, older events included, in any order asked', async () => {
    const histories = new DeploymentHistories(store, 10);
    const [requested, launching, stopped] = await store.readAll({ from: 'start' });
    expect((await histories.stateAfter(stopped))?.status).toBe('ToBeTerminated');
    expect((await histories.stateAfter(requested))?.status).toBe('Pending');
    expect((await histories.stateAfter(launching))?.status).toBe('LaunchingNodes');
    expect((await histories.stateAfter(stopped))?.status).toBe('ToBeTerminated');
  });

  it('reads a stream again for an event newer than what it holds', async () => {
    const histories = new DeploymentHistories(store, 10);
    const [requested] = await store.readAll({ from: 'start' });
    expect((await histories.stateAfter(requested))?.status).toBe('Pending');
    await run(command('StartDeletingPods', {}, { now: new Date().toISOString(), by: BY }));
    const [newest] = (await store.readAll({ from: 'start' })).slice(-1);
    expect((await histories.stateAfter(newest))?.status).toBe('DeletingPods');
  });

  it('gives no deployment for a stream that holds none', async () => {
    await store.append('sweep', [{ type: 'OrphanSwept', data: { at: new Date().toISOString() } }], 'any');
    const [swept] = (await store.readAll({ from: 'start' })).slice(-1);
    expect(await new DeploymentHistories(store).stateAfter(swept)).toBeNull();
  });
});
