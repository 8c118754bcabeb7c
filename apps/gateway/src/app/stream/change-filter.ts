import { ALL_ERROR_STATUSES, ALL_STATUSES, SimDeployment, ValidationError, isValidDeploymentId } from '@simdeploy/domain';
import { canSee, type Principal } from '../auth/principal';

export interface ChangeFilterQuery {
  id?: string;
  status?: string;
  errorStatus?: string;
  label?: string[];
}

const NO_ERROR = 'none';

/** `A,B` or `!A,B`, the same grammar as the list's filters. */
function oneOf(name: string, value: string | undefined, allowed: readonly string[]): (actual: string) => boolean {
  if (value === undefined || value === '') return () => true;
  const negate = value.startsWith('!');
  const values = (negate ? value.slice(1) : value).split(',').map((v) => v.trim());
  const unknown = values.filter((v) => !allowed.includes(v));
  if (unknown.length > 0) {
    throw new ValidationError(`${name} must be one of ${allowed.join(', ')} (optionally comma-separated, with a leading ! to negate); got "${value}"`);
  }
  return (actual) => values.includes(actual) !== negate;
}

/**
 * Which changes one stream client receives: the caller's own simulations and their team's
 * (every one for an admin), narrowed by the query. Judged on the deployment as the change left it.
 */
export function changeFilter(principal: Principal, query: ChangeFilterQuery): (state: SimDeployment) => boolean {
  const ids = query.id
    ?.split(',')
    .map((id) => id.trim())
    .filter((id) => id !== '');
  const badId = ids?.find((id) => !isValidDeploymentId(id));
  if (badId !== undefined) throw new ValidationError(`id must be simulation ids, comma-separated; "${badId}" is not one`);
  const wanted = ids && ids.length > 0 ? new Set(ids) : null;
  const status = oneOf('status', query.status, ALL_STATUSES);
  const errorStatus = oneOf('errorStatus', query.errorStatus, [...ALL_ERROR_STATUSES, NO_ERROR]);
  const labels = (query.label ?? []).map((pair) => {
    const at = pair.indexOf('=');
    return at < 0 ? { key: pair, value: null } : { key: pair.slice(0, at), value: pair.slice(at + 1) };
  });
  return (state) =>
    canSee(principal, state) &&
    (wanted === null || wanted.has(state.id)) &&
    status(state.status) &&
    errorStatus(state.errorStatus ?? NO_ERROR) &&
    labels.every(({ key, value }) => {
      if (!Object.hasOwn(state.spec.labels, key)) return false;
      return value === null || state.spec.labels[key] === value;
    });
}
