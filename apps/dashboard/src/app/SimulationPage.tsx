import { useEffect, useState } from 'react';
import { ApiError } from '../lib/api';
import { FAILURE_EVENTS, eventTime, formatDuration, phasesOf } from '../lib/phases';
import { Link } from '../lib/router';
import { FINAL_STATUSES, RecordedEventView, SimulationChange, SimulationView } from '../lib/types';
import { usePageTitle } from './App';
import { useSignedIn } from './session-context';
import { ErrorBadge, StatusBadge } from './StatusBadge';
import { LiveIndicator, useLiveChanges } from './use-live-changes';

const later = (a: string | undefined, b: string | undefined) => (a === undefined ? false : b === undefined ? true : BigInt(a) > BigInt(b));

function useNow(ticking: boolean): Date {
  const [now, setNow] = useState(() => new Date());
  useEffect(() => {
    if (!ticking) return;
    const timer = setInterval(() => setNow(new Date()), 1_000);
    return () => clearInterval(timer);
  }, [ticking]);
  return now;
}

/** A line of detail for the events a person looks for in a timeline. */
function detailOf(event: RecordedEventView): string | null {
  const d = event.data;
  if (FAILURE_EVENTS.has(event.type)) {
    const error = d['error'] as { code?: string; message?: string } | undefined;
    return `${String(d['stage'])}/${String(d['step'])}: ${error?.code ?? ''} ${error?.message ?? ''}`.trim();
  }
  if (event.type === 'InstanceLaunched') return `${String(d['instanceId'])} (${String(d['nodeName'])})`;
  if (event.type === 'StopRequested') return `by ${String((d['by'] as { subject?: string } | undefined)?.subject)} (${String(d['reason'])})`;
  if (event.type === 'WaitingReported') return `${String(d['code'])}: ${String(d['message'])}`;
  if (event.type === 'SimulationRejected') return String(d['reason']);
  if (event.type === 'AdminReviewResolved') return String(d['comment']);
  return null;
}

const words = (type: string) => type.replace(/([a-z])([A-Z])/g, '$1 $2');

export function SimulationPage({ id }: { id: string }) {
  usePageTitle(`Simulation ${id.slice(0, 8)}`);
  const { api } = useSignedIn();
  const [view, setView] = useState<{ view: SimulationView; at?: string } | null>(null);
  const [events, setEvents] = useState<RecordedEventView[]>([]);
  const [problem, setProblem] = useState<string | null>(null);
  const [notFound, setNotFound] = useState(false);
  const [stopping, setStopping] = useState(false);

  // Bumped to read the simulation again (the stream started afresh).
  const [version, setVersion] = useState(0);
  useEffect(() => {
    let cancelled = false;
    Promise.all([api<SimulationView>('GET', `/simulations/${id}`), api<RecordedEventView[]>('GET', `/simulations/${id}/events`)]).then(
      ([current, history]) => {
        if (cancelled) return;
        const at = history[history.length - 1]?.position;
        setView((shown) => (shown && later(shown.at, at) ? shown : { view: current, at }));
        setEvents((shown) => merge(history, shown));
        setProblem(null);
      },
      (error: unknown) => {
        if (cancelled) return;
        if (error instanceof ApiError && error.status === 404) setNotFound(true);
        else setProblem(error instanceof ApiError ? error.message : 'The gateway cannot be reached.');
      },
    );
    return () => {
      cancelled = true;
    };
  }, [api, id, version]);

  const onChange = (change: SimulationChange) => {
    setView((shown) => (shown && !later(change.position, shown.at) ? shown : { view: change.view, at: change.position }));
    setEvents((shown) => merge(shown, [{ ...change.event, position: change.position, revision: change.revision }]));
  };
  const live = useLiveChanges(`?id=${encodeURIComponent(id)}`, { onChange, onReady: (resumed) => !resumed && setVersion((v) => v + 1) });

  const current = view?.view;
  const final = current ? FINAL_STATUSES.includes(current.status) : false;
  const now = useNow(!final);

  const stop = async () => {
    setStopping(true);
    try {
      const stopped = await api<SimulationView>('POST', `/simulations/${id}/stop`);
      setView((shown) => (shown && shown.view.updatedAt > stopped.updatedAt ? shown : { view: stopped, at: shown?.at }));
    } catch (error) {
      setProblem(error instanceof ApiError ? error.message : 'The gateway cannot be reached.');
    } finally {
      setStopping(false);
    }
  };

  if (notFound) {
    return (
      <section>
        <h1 tabIndex={-1}>Simulation not found</h1>
        <p>
          There is no simulation {id} that you may see. <Link to="/">Back to the simulations</Link>
        </p>
      </section>
    );
  }

  const phases = phasesOf(events, now);
  const longest = Math.max(1, ...phases.map((p) => p.durationMs));
  const requestedAt = current ? Date.parse(current.requestedAt) : 0;
  const stoppable = current && !final && current.status !== 'ToBeTerminated' && !current.stop;

  return (
    <section aria-labelledby="simulation-title">
      <div className="page-head">
        <h1 id="simulation-title" tabIndex={-1}>
          Simulation <span className="mono">{id.slice(0, 8)}</span>
        </h1>
        <LiveIndicator state={live} />
      </div>
      {problem && (
        <p className="notice" role="alert">
          {problem}
        </p>
      )}
      {current && (
        <>
          <dl className="facts">
            <div>
              <dt>Status</dt>
              <dd data-testid="status" aria-live="polite">
                <StatusBadge status={current.status} />
              </dd>
            </div>
            <div>
              <dt>Error status</dt>
              <dd data-testid="error-status">
                <ErrorBadge errorStatus={current.errorStatus} />
              </dd>
            </div>
            {current.admission?.state === 'queued' && (
              <div>
                <dt>Waiting</dt>
                <dd data-testid="admission">
                  in line for {current.admission.waitingFor}
                  {current.admission.place !== null && ` (place ${current.admission.place})`} since{' '}
                  {new Date(current.admission.since).toLocaleTimeString()}
                </dd>
              </div>
            )}
            <div>
              <dt>Owner</dt>
              <dd>{current.owner}</dd>
            </div>
            <div>
              <dt>Provider</dt>
              <dd>{current.provider}</dd>
            </div>
            <div>
              <dt>World</dt>
              <dd className="mono">{current.spec.world}</dd>
            </div>
            <div>
              <dt>Id</dt>
              <dd className="mono">{current.id}</dd>
            </div>
          </dl>
          <div className="actions">
            {stoppable && (
              <button type="button" className="danger" onClick={() => void stop()} disabled={stopping}>
                {stopping ? 'Stopping…' : 'Stop simulation'}
              </button>
            )}
            {current.links?.access && (
              <a className="button secondary" href={current.links.access} target="_blank" rel="noreferrer">
                Open the simulation
              </a>
            )}
            {current.links?.logs && (
              <a className="button secondary" href={current.links.logs} target="_blank" rel="noreferrer">
                Logs
              </a>
            )}
          </div>
          {current.failure && (
            <section className="failure" aria-labelledby="failure-title">
              <h2 id="failure-title">Latest failure</h2>
              <dl className="facts">
                <div>
                  <dt>Step</dt>
                  <dd className="mono">
                    {current.failure.stage}/{current.failure.step}
                  </dd>
                </div>
                <div>
                  <dt>Provider code</dt>
                  <dd className="mono" data-testid="failure-code">
                    {current.failure.code}
                  </dd>
                </div>
                <div>
                  <dt>Message</dt>
                  <dd data-testid="failure-message">{current.failure.message}</dd>
                </div>
                <div>
                  <dt>Attempts</dt>
                  <dd>
                    {current.failure.attempt}
                    {current.failure.transient ? ' (transient)' : ''}
                  </dd>
                </div>
                <div>
                  <dt>At</dt>
                  <dd>
                    <time dateTime={current.failure.at}>{new Date(current.failure.at).toLocaleString()}</time>
                  </dd>
                </div>
              </dl>
            </section>
          )}
          <section aria-labelledby="phases-title">
            <h2 id="phases-title">Time in each phase</h2>
            <table className="phases">
              <thead>
                <tr>
                  <th scope="col">Phase</th>
                  <th scope="col">Started</th>
                  <th scope="col">Time spent</th>
                </tr>
              </thead>
              <tbody>
                {phases.map((p) => (
                  <tr key={`${p.status}-${p.startedAt}`}>
                    <th scope="row">
                      <StatusBadge status={p.status} />
                    </th>
                    <td>
                      <time dateTime={p.startedAt}>{new Date(p.startedAt).toLocaleTimeString()}</time>
                    </td>
                    <td>
                      <span className="bar" style={{ inlineSize: `${Math.max(2, (p.durationMs / longest) * 100)}%` }} aria-hidden="true" />
                      {p.endedAt === null && !FINAL_STATUSES.includes(p.status) ? `${formatDuration(p.durationMs)} so far` : formatDuration(p.durationMs)}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </section>
          <section aria-labelledby="timeline-title">
            <h2 id="timeline-title">Timeline</h2>
            <ol className="timeline" data-testid="timeline">
              {events.map((e) => {
                const detail = detailOf(e);
                return (
                  <li key={e.position ?? `${e.type}-${e.recordedAt}`} className={FAILURE_EVENTS.has(e.type) ? 'failed' : undefined}>
                    <time dateTime={eventTime(e)}>+{formatDuration(Math.max(0, Date.parse(eventTime(e)) - requestedAt))}</time>
                    <span className="event-type">{words(e.type)}</span>
                    {detail && <span className="event-detail">{detail}</span>}
                  </li>
                );
              })}
            </ol>
          </section>
        </>
      )}
    </section>
  );
}

/** The union of two event lists, once each, in store order. */
function merge(a: readonly RecordedEventView[], b: readonly RecordedEventView[]): RecordedEventView[] {
  const byPosition = new Map<string, RecordedEventView>();
  for (const e of [...a, ...b]) byPosition.set(e.position ?? `${e.recordedAt}-${e.type}`, e);
  return [...byPosition.values()].sort((x, y) => (later(x.position, y.position) ? 1 : later(y.position, x.position) ? -1 : 0));
}
