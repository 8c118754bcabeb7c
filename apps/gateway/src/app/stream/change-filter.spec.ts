import type { SimDeployment } from '@simdeploy/domain';
import { changeFilter } from './change-filter';

const deployment = (owner: string, team?: string): SimDeployment =>
  ({ id: 'd6c1c2a0-1b2c-4d5e-8f90-a1b2c3d4e5f6', owner, ...(team ? { team } : {}), status: 'Running', errorStatus: null, spec: { labels: {} } }) as unknown as SimDeployment;

describe('which changes a stream client receives', () => {
  it("gives a member their own and their team's simulations, nobody else's", () => {
    const bob = changeFilter({ subject: 'bob', roles: [], isAdmin: false, team: 'robotics' }, {});
    expect(bob(deployment('bob'))).toBe(true);
    expect(bob(deployment('alice', 'robotics'))).toBe(true);
    expect(bob(deployment('carol', 'perception'))).toBe(false);
    expect(bob(deployment('carol'))).toBe(false);

    const loner = changeFilter({ subject: 'dave', roles: [], isAdmin: false }, {});
    expect(loner(deployment('alice', 'robotics'))).toBe(false);
    expect(changeFilter({ subject: 'root', roles: ['admin'], isAdmin: true }, {})(deployment('alice', 'robotics'))).toBe(true);
  });
});
