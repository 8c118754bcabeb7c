import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

const root = join(__dirname, '..', '..');
const CLOUD_CLIENTS = ['@kubernetes/client-node', '@aws-sdk/client-ec2', '@aws-sdk/client-s3', '@eventstore/db-client'];

/** Which of the cloud client packages a fresh Node process holds after requiring these built modules. */
function loadedClients(modules: string[], then = ''): string[] {
  const script = `
    for (const m of ${JSON.stringify(modules)}) require(m);
    ${then}
    const names = ${JSON.stringify(CLOUD_CLIENTS)};
    const loaded = Object.keys(require.cache).map((f) => f.split('node_modules/').pop() ?? '');
    console.log(JSON.stringify(names.filter((n) => loaded.some((f) => f.startsWith(n + '/')))));`;
  return JSON.parse(execFileSync(process.execPath, ['-e', script], { cwd: root, encoding: 'utf8' })) as string[];
}

describe('cloud client libraries load on first use', () => {
  const barrels = ['service-kit', 'cloud', 'event-store', 'workflows', 'read-model'].map((lib) => join(root, `dist/libs/${lib}/src/index.js`));

  it('a service on the local runtime and JetStream loads none of them (about 100 MB and 0.6 s a process)', () => {
    expect(loadedClients(barrels)).toEqual([]);
  });

  it('each is there once its adapter is built', () => {
    const cloud = join(root, 'dist/libs/cloud/src/index.js');
    const store = join(root, 'dist/libs/event-store/src/index.js');
    const build = `
      const c = require(${JSON.stringify(cloud)});
      new c.Ec2NodeProvider({ region: 'us-east-1', clusterName: 'c', installationId: 'i', imageId: 'ami-0abc', cluster: { apiServerEndpoint: 'https://127.0.0.1:6443', certificateAuthority: 'Y2E=', serviceCidr: '10.100.0.0/16' }, subnetIds: [], securityGroupIds: [] });
      new c.S3LogArchive({ bucket: 'b', prefix: 'p', region: 'us-east-1' });
      c.classifyKubernetesError(new Error('x'));
      const s = require(${JSON.stringify(store)});
      new s.EsdbEventStore({ connectionString: 'esdb://127.0.0.1:1?tls=false' }).close();`;
    expect(loadedClients(barrels, build).sort()).toEqual([...CLOUD_CLIENTS].sort());
  });
});
