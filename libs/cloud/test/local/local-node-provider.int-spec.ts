import { rmSync } from 'node:fs';
import { clientTokenFor, type NodeRole } from '@simdeploy/domain';
import { waitFor } from '@simdeploy/testing';
import { LocalNodeProvider, localInstanceIdFor } from '../../src/local';
import { ProviderError, type NodeRequest } from '../../src/ports';
import { tempStateDir, uniqueDeploymentId } from './helpers';

const nodeRequest = (deploymentId: string, role: NodeRole = 'simulator', index = 0): NodeRequest => ({
  deploymentId,
  owner: 'alice',
  role,
  index,
  clientToken: clientTokenFor(deploymentId, role, index),
  instanceType: 'local',
  labels: {},
});

describe('LocalNodeProvider', () => {
  let stateDir: string;
  beforeEach(() => {
    stateDir = tempStateDir();
  });
  afterEach(() => rmSync(stateDir, { recursive: true, force: true }));

  it('returns the same slot for the same client token, with an id derived from the token', async () => {
    const provider = new LocalNodeProvider({ stateDir });
    const id = uniqueDeploymentId();
    const first = await provider.launchNode(nodeRequest(id));
    const again = await provider.launchNode(nodeRequest(id));
    expect(again).toEqual(first);
    expect(first.instanceId).toBe(localInstanceIdFor(clientTokenFor(id, 'simulator', 0)));
    expect(first.instanceId).toMatch(/^i-local-[0-9a-f]{17}$/);
    expect(first.nodeName).toBe(`local-${id}-simulator-0`);
    expect(await provider.listManagedInstances()).toHaveLength(1);
  });

  it('gives two deployments different slots', async () => {
    const provider = new LocalNodeProvider({ stateDir });
    const [a, b] = [uniqueDeploymentId(), uniqueDeploymentId()];
    const nodeA = await provider.launchNode(nodeRequest(a));
    const nodeB = await provider.launchNode(nodeRequest(b));
    expect(nodeA.instanceId).not.toBe(nodeB.instanceId);
    const listed = await provider.listManagedInstances();
    expect(listed.map((i) => [i.instanceId, i.deploymentId]).sort()).toEqual(
      [
        [nodeA.instanceId, a],
        [nodeB.instanceId, b],
      ].sort(),
    );
    expect(listed.every((i) => typeof i.launchedAt === 'string')).toBe(true);
  });

  it('refuses a launch with a transient capacity error when every slot is taken, and frees the slot on terminate', async () => {
    const provider = new LocalNodeProvider({ stateDir, slots: 2 });
    const id = uniqueDeploymentId();
    const first = await provider.launchNode(nodeRequest(id, 'simulator'));
    await provider.launchNode(nodeRequest(id, 'robots'));
    const refused = await provider.launchNode(nodeRequest(uniqueDeploymentId())).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(ProviderError);
    expect(refused).toMatchObject({ code: 'InsufficientInstanceCapacity', transient: true });
    // A retry of a node that already has a slot is no new launch and still succeeds.
    await expect(provider.launchNode(nodeRequest(id, 'simulator'))).resolves.toEqual(first);

    await provider.terminateInstances(id, [first.instanceId, 'i-local-unknown']);
    const other = await provider.launchNode(nodeRequest(uniqueDeploymentId()));
    expect(other.instanceId).not.toBe(first.instanceId);
  });

  it('reports nodes pending until the boot delay has passed', async () => {
    let now = 1_000_000;
    const provider = new LocalNodeProvider({ stateDir, bootDelayMs: 60_000, clock: () => now });
    const id = uniqueDeploymentId();
    const node = await provider.launchNode(nodeRequest(id));
    const pending = await provider.checkNodes(id, [node]);
    expect(pending).toMatchObject({ state: 'pending' });
    expect(pending.state === 'pending' && pending.detail).toContain(node.nodeName);
    now += 60_000;
    expect(await provider.checkNodes(id, [node])).toEqual({ state: 'ready' });
  });

  it('becomes ready on the real clock after a short boot delay', async () => {
    const provider = new LocalNodeProvider({ stateDir, bootDelayMs: 200 });
    const id = uniqueDeploymentId();
    const node = await provider.launchNode(nodeRequest(id));
    await waitFor(async () => (await provider.checkNodes(id, [node])).state === 'ready', { timeoutMs: 5_000 });
  });

  it('shares slots between providers on the same state directory, as separate processes would', async () => {
    const launcher = new LocalNodeProvider({ stateDir, slots: 1 });
    const terminator = new LocalNodeProvider({ stateDir, slots: 1 });
    const id = uniqueDeploymentId();
    const node = await launcher.launchNode(nodeRequest(id));
    await expect(terminator.launchNode(nodeRequest(id))).resolves.toEqual(node);
    await expect(terminator.launchNode(nodeRequest(uniqueDeploymentId()))).rejects.toMatchObject({ code: 'InsufficientInstanceCapacity' });
    expect(await terminator.terminateDeployment(id)).toEqual([node.instanceId]);
    expect(await launcher.listManagedInstances()).toEqual([]);
    expect(await terminator.terminateDeployment(id)).toEqual([]);
  });

  it('a provider that has read the slots once still sees what another process launched and terminated since', async () => {
    const sweeper = new LocalNodeProvider({ stateDir });
    const other = new LocalNodeProvider({ stateDir });
    const [a, b] = [uniqueDeploymentId(), uniqueDeploymentId()];
    const nodeA = await other.launchNode(nodeRequest(a));
    expect((await sweeper.listManagedInstances()).map((i) => i.deploymentId)).toEqual([a]);

    expect(await other.terminateDeployment(a)).toEqual([nodeA.instanceId]);
    const nodeB = await other.launchNode(nodeRequest(b, 'robots', 1));
    expect((await sweeper.listManagedInstances()).map((i) => i.instanceId)).toEqual([nodeB.instanceId]);
    expect(await sweeper.terminateDeployment(a)).toEqual([]);
    expect(await sweeper.terminateDeployment(b)).toEqual([nodeB.instanceId]);
    expect(await other.listManagedInstances()).toEqual([]);
  });

  it('reports a node whose slot is gone as failed, and a check creates nothing', async () => {
    const provider = new LocalNodeProvider({ stateDir, bootDelayMs: 1_000 });
    const id = uniqueDeploymentId();
    const node = { instanceId: localInstanceIdFor(clientTokenFor(id, 'simulator', 0)), nodeName: `local-${id}-simulator-0` };
    expect(await provider.checkNodes(id, [node])).toMatchObject({ state: 'failed', error: { code: 'InstanceNotFound', transient: false } });
    expect(await provider.listManagedInstances()).toEqual([]);
    expect(await provider.checkNodes(id, [{ instanceId: 'i-0abc', nodeName: 'ip-10-0-0-1' }])).toMatchObject({
      state: 'failed',
      error: { code: 'InstanceNotFound', transient: false },
    });
  });
});
