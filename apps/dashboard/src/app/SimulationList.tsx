import { useEffect, useId, useState } from 'react';
import { ApiError } from '../lib/api';
import { Link, navigate, useLocation } from '../lib/router';
import { ERROR_STATUSES, STATUSES, SimulationChange, SimulationList as ListAnswer, SimulationView } from '../lib/types';
import { usePageTitle } from './App';
import { useSignedIn } from './session-context';
import { ErrorBadge, StatusBadge } from './StatusBadge';
import { LiveIndicator, useLiveChanges } from './use-live-changes';

const PAGE_SIZE = 20;

/** `status` and `errorStatus` use the list's grammar: a value, or a leading ! for "anything but". */
function matches(view: SimulationView, status: string, errorStatus: string): boolean {
  const test = (filter: string, actual: string) => filter === '' || (filter.startsWith('!') ? filter.slice(1) !== actual : filter === actual);
  return test(status, view.status) && test(errorStatus, view.errorStatus ?? 'none');
}

interface Page {
  /** How this page was asked for: a cursor when the list gives them, an offset otherwise. */
  cursor: string | null;
  offset: number;
}

export function SimulationList() {
  usePageTitle('Simulations');
  const { api } = useSignedIn();
  const { query } = useLocation();
  const status = query.get('status') ?? '';
  const errorStatus = query.get('errorStatus') ?? '';
  const [pages, setPages] = useState<Page[]>([{ cursor: null, offset: 0 }]);
  const [answer, setAnswer] = useState<ListAnswer | null>(null);
  const [problem, setProblem] = useState<string | null>(null);
  const page = pages[pages.length - 1];
  const statusId = useId();
  const errorId = useId();

  // Bumped to read the list again (the stream started afresh).
  const [version, setVersion] = useState(0);
  useEffect(() => {
    const params = new URLSearchParams({ limit: String(PAGE_SIZE) });
    if (page.cursor) params.set('cursor', page.cursor);
    else params.set('offset', String(page.offset));
    if (status) params.set('status', status);
    if (errorStatus) params.set('errorStatus', errorStatus);
    let cancelled = false;
    api<ListAnswer>('GET', `/simulations?${params}`).then(
      (list) => {
        if (cancelled) return;
        setAnswer(list);
        setProblem(null);
      },
      (error: unknown) => !cancelled && setProblem(error instanceof ApiError ? error.message : 'The gateway cannot be reached.'),
    );
    return () => {
      cancelled = true;
    };
  }, [api, page, status, errorStatus, version]);

  const onChange = (change: SimulationChange) => {
    setAnswer((current) => {
      if (!current) return current;
      const index = current.items.findIndex((item) => item.id === change.view.id);
      if (index >= 0) {
        const items = [...current.items];
        items[index] = change.view;
        return { ...current, items };
      }
      // A new simulation shows at the top of the first page, if the filters let it.
      const first = page.cursor === null && page.offset === 0;
      if (change.event.type === 'SimulationRequested' && first && matches(change.view, status, errorStatus)) {
        return { ...current, items: [change.view, ...current.items].slice(0, PAGE_SIZE), total: current.total + 1 };
      }
      return current;
    });
  };
  const live = useLiveChanges('', { onChange, onReady: (resumed) => !resumed && setVersion((v) => v + 1) });

  const setFilter = (name: 'status' | 'errorStatus', value: string) => {
    const next = new URLSearchParams(query);
    if (value) next.set(name, value);
    else next.delete(name);
    setPages([{ cursor: null, offset: 0 }]);
    navigate(`/${next.size > 0 ? `?${next}` : ''}`, { replace: true });
  };

  const hasNext = answer ? (answer.nextCursor !== undefined ? Boolean(answer.nextCursor) : answer.offset + answer.items.length < answer.total) : false;
  const next = () => {
    if (!answer) return;
    setPages([...pages, answer.nextCursor ? { cursor: answer.nextCursor, offset: 0 } : { cursor: null, offset: answer.offset + answer.limit }]);
  };

  return (
    <section aria-labelledby="list-title">
      <div className="page-head">
        <h1 id="list-title" tabIndex={-1}>
          Simulations
        </h1>
        <LiveIndicator state={live} />
        <Link to="/launch" className="button">
          Launch a simulation
        </Link>
      </div>
      <form className="filters" aria-label="Filters" onSubmit={(e) => e.preventDefault()}>
        <div className="field">
          <label htmlFor={statusId}>Status</label>
          <select id={statusId} value={status} onChange={(e) => setFilter('status', e.target.value)}>
            <option value="">Any</option>
            <option value="!Terminated">Not terminated</option>
            {STATUSES.map((s) => (
              <option key={s} value={s}>
                {s}
              </option>
            ))}
          </select>
        </div>
        <div className="field">
          <label htmlFor={errorId}>Error status</label>
          <select id={errorId} value={errorStatus} onChange={(e) => setFilter('errorStatus', e.target.value)}>
            <option value="">Any</option>
            <option value="none">None</option>
            <option value="!none">Any error</option>
            {ERROR_STATUSES.map((s) => (
              <option key={s} value={s}>
                {s}
              </option>
            ))}
          </select>
        </div>
      </form>
      {problem && (
        <p className="notice" role="alert">
          {problem}
        </p>
      )}
      {answer && answer.items.length === 0 && <p className="empty">No simulations match. Launch one, or change the filters.</p>}
      {answer && answer.items.length > 0 && (
        <div className="table-wrap">
          <table className="simulations">
            <caption className="visually-hidden">Simulations, newest first, with their live status</caption>
            <thead>
              <tr>
                <th scope="col">Simulation</th>
                <th scope="col">Status</th>
                <th scope="col">Error status</th>
                <th scope="col">Owner</th>
                <th scope="col">Labels</th>
                <th scope="col">Requested</th>
              </tr>
            </thead>
            <tbody>
              {answer.items.map((s) => (
                <tr key={s.id} data-simulation={s.id}>
                  <td data-label="Simulation">
                    <Link to={`/simulation/${s.id}`} className="mono">
                      {s.id.slice(0, 8)}
                    </Link>{' '}
                    <span className="muted">{s.spec.world}</span>
                  </td>
                  <td data-label="Status">
                    <StatusBadge status={s.status} />
                  </td>
                  <td data-label="Error status">
                    <ErrorBadge errorStatus={s.errorStatus} />
                  </td>
                  <td data-label="Owner">{s.owner}</td>
                  <td data-label="Labels">
                    {Object.entries(s.spec.labels).map(([k, v]) => (
                      <span key={k} className="chip">
                        {k}={v}
                      </span>
                    ))}
                  </td>
                  <td data-label="Requested">
                    <time dateTime={s.requestedAt}>{new Date(s.requestedAt).toLocaleString()}</time>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {answer && (
        <nav className="pager" aria-label="Pages">
          <button type="button" className="secondary" disabled={pages.length === 1} onClick={() => setPages(pages.slice(0, -1))}>
            Previous page
          </button>
          <span>
            {answer.items.length === 0 ? 0 : (answer.nextCursor !== undefined ? (pages.length - 1) * PAGE_SIZE : answer.offset) + 1}–
            {(answer.nextCursor !== undefined ? (pages.length - 1) * PAGE_SIZE : answer.offset) + answer.items.length} of {answer.total}
          </span>
          <button type="button" className="secondary" disabled={!hasNext} onClick={next}>
            Next page
          </button>
        </nav>
      )}
    </section>
  );
}
