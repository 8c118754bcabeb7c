import { ID, PODS, ROBOT_NODE, launched, plan, useFakeApi } from './fixtures';

/**
 * How a launch reads its pods' waiting and terminated containers (issue 17): a container
 * that ends before Running fails with its exit and last lines; image pulls that may still
 * work are shown, not failed; permanent pull errors and persistent back-offs fail.
 */
useFakeApi();

const ROBOT = 'sim-d1-robot-0';
const IMAGE = 'registry.test/scout:2';

/** Everything runs but the robot, which is in the state the test sets. */
async function robotOnly() {
  const context = await launched({ imagePullBackOffLimit: 4, createContainerConfigGraceSeconds: 30 });
  context.cluster.run('sim-d1-gzserver');
  context.cluster.run('sim-d1-bridge-0');
  return context;
}

describe('a container that terminates before Running', () => {
  it('fails the check with the pod, container, exit code, reason and the last log lines', async () => {
    const { cluster, runtime } = await robotOnly();
    cluster.terminate(ROBOT, { exitCode: 3, reason: 'Error' }, 'loading world\ncannot open display\n');

    await expect(runtime.checkWorkload(ID, plan.pods)).resolves.toEqual({
      state: 'failed',
      // The runtime's "Error" only says the code was not 0: the exit is the same class as any provider's (the contract's PodExited).
      error: { code: 'PodExited', message: `${ROBOT}: container robot exited with code 3 (Error)`, transient: false },
      logs: ['loading world', 'cannot open display'],
    });
    expect(cluster.calls()).toContain(`GET ${PODS}/${ROBOT}/log?container=robot&tailLines=20`);
  });

  it('fails a container that exits with code 0 (Completed) as PodExited too: a simulation is not meant to end before it runs', async () => {
    const { cluster, runtime } = await robotOnly();
    cluster.terminate(ROBOT, { exitCode: 0, reason: 'Completed' }, 'done\n');

    await expect(runtime.checkWorkload(ID, plan.pods)).resolves.toMatchObject({
      state: 'failed',
      error: { code: 'PodExited', message: `${ROBOT}: container robot exited with code 0 (Completed)`, transient: false },
      logs: ['done'],
    });
  });

  it('names the signal of a container killed by one', async () => {
    const { cluster, runtime } = await robotOnly();
    cluster.terminate(ROBOT, { exitCode: 137, signal: 9, reason: 'OOMKilled' });

    await expect(runtime.checkWorkload(ID, plan.pods)).resolves.toMatchObject({
      state: 'failed',
      error: { code: 'OOMKilled', message: `${ROBOT}: container robot killed by signal 9 (exit code 137, OOMKilled)` },
      logs: [],
    });
  });
});

describe('image pulls', () => {
  const transient = [
    ['a registry rate limit', `failed to pull and unpack image "${IMAGE}": failed to copy: httpReadSeeker: failed open: unexpected status code https://registry.test/v2/scout/manifests/2: 429 Too Many Requests - Server message: toomanyrequests: You have reached your pull rate limit.`],
    ['a timeout', `rpc error: code = DeadlineExceeded desc = failed to pull and unpack image "${IMAGE}": failed to resolve reference "${IMAGE}": failed to do request: Head "https://registry.test/v2/scout/manifests/2": dial tcp 203.0.113.9:443: i/o timeout`],
  ];
  const permanent = [
    ['an image that does not exist', `rpc error: code = NotFound desc = failed to pull and unpack image "${IMAGE}": failed to resolve reference "${IMAGE}": ${IMAGE}: not found`],
    ['an unknown manifest', `rpc error: code = Unknown desc = Error response from daemon: manifest for ${IMAGE} not found: manifest unknown: manifest unknown`],
    ['a registry that refuses the node', `rpc error: code = Unknown desc = failed to pull and unpack image "${IMAGE}": failed to resolve reference "${IMAGE}": unexpected status code [manifests 2]: 401 Unauthorized`],
  ];

  it.each(transient)('a single ErrImagePull from %s is pending with its reason and message, not a failure', async (_what, message) => {
    const { cluster, runtime } = await robotOnly();
    cluster.wait(ROBOT, { reason: 'ErrImagePull', message });

    await expect(runtime.checkWorkload(ID, plan.pods)).resolves.toMatchObject({
      state: 'pending',
      reason: { code: 'ErrImagePull', message: `${ROBOT}: ${message}` },
    });
  });

  it.each(permanent)('ErrImagePull for %s fails at once', async (_what, message) => {
    const { cluster, runtime } = await robotOnly();
    cluster.wait(ROBOT, { reason: 'ErrImagePull', message });

    await expect(runtime.checkWorkload(ID, plan.pods)).resolves.toMatchObject({
      state: 'failed',
      error: { code: 'ErrImagePull', message: `${ROBOT}: container robot cannot pull its image: ${message}`, transient: false },
      logs: [],
    });
  });

  it('ImagePullBackOff with a permanent cause in its message (kubelet 1.32+) fails at once', async () => {
    const { cluster, runtime } = await robotOnly();
    cluster.wait(ROBOT, { reason: 'ImagePullBackOff', message: `Back-off pulling image "${IMAGE}": ErrImagePull: ${permanent[0][1]}` });
    await expect(runtime.checkWorkload(ID, plan.pods)).resolves.toMatchObject({ state: 'failed', error: { code: 'ImagePullBackOff' } });
  });

  it('ImagePullBackOff for a transient cause is pending until it has lasted past the bounded number of back-offs', async () => {
    const { cluster, runtime, clock } = await robotOnly();
    const message = `Back-off pulling image "${IMAGE}": ErrImagePull: ${transient[0][1]}`;
    cluster.wait(ROBOT, { reason: 'ImagePullBackOff', message });

    // Four back-offs of the kubelet's 10 s, doubling: 10 + 20 + 40 + 80 = 150 s after the kubelet took the pod.
    clock.advance(149);
    await expect(runtime.checkWorkload(ID, plan.pods)).resolves.toMatchObject({
      state: 'pending',
      reason: { code: 'ImagePullBackOff', message: `${ROBOT}: ${message}` },
    });
    clock.advance(2);
    await expect(runtime.checkWorkload(ID, plan.pods)).resolves.toMatchObject({
      state: 'failed',
      error: { code: 'ImagePullBackOff', message: expect.stringContaining('still failing after 4 back-offs'), transient: false },
    });
  });

  it('ErrImagePull for a transient cause fails too once the pulls have failed past the bound', async () => {
    const { cluster, runtime, clock } = await robotOnly();
    cluster.wait(ROBOT, { reason: 'ErrImagePull', message: transient[1][1] });
    clock.advance(151);
    await expect(runtime.checkWorkload(ID, plan.pods)).resolves.toMatchObject({
      state: 'failed',
      error: { code: 'ErrImagePull', message: expect.stringContaining('still failing after 4 back-offs') },
    });
  });

  it('InvalidImageName fails at once', async () => {
    const { cluster, runtime } = await robotOnly();
    cluster.wait(ROBOT, { reason: 'InvalidImageName', message: 'Failed to apply default image tag "Registry.test/Scout": couldn\'t parse image name' });
    await expect(runtime.checkWorkload(ID, plan.pods)).resolves.toMatchObject({ state: 'failed', error: { code: 'InvalidImageName' } });
  });
});

describe('CreateContainerConfigError (a missing secret or config map)', () => {
  it('is shown at once and fails after the grace period', async () => {
    const { cluster, runtime, clock } = await robotOnly();
    const message = 'secret "robot-credentials" not found';
    cluster.wait(ROBOT, { reason: 'CreateContainerConfigError', message });

    await expect(runtime.checkWorkload(ID, plan.pods)).resolves.toMatchObject({
      state: 'pending',
      reason: { code: 'CreateContainerConfigError', message: `${ROBOT}: ${message}` },
    });
    clock.advance(31);
    await expect(runtime.checkWorkload(ID, plan.pods)).resolves.toMatchObject({
      state: 'failed',
      error: { code: 'CreateContainerConfigError', message: `${ROBOT}: container robot cannot be created: ${message}` },
    });
  });
});

describe('a container still being created', () => {
  it('is pending, with the kubelet\'s progress in the detail and no reason to show', async () => {
    const { cluster, runtime } = await robotOnly();
    cluster.schedule(ROBOT, ROBOT_NODE);
    // The kubelet at work is progress: in the detail, no reason to show the user.
    await expect(runtime.checkWorkload(ID, plan.pods)).resolves.toEqual({ state: 'pending', detail: expect.stringContaining('ContainerCreating') });
  });
});
