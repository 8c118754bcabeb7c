import { FormEvent, useEffect, useId, useState } from 'react';
import { ApiError } from '../lib/api';
import { Link } from '../lib/router';
import type { ReviewView, SimulationChange } from '../lib/types';
import { usePageTitle } from './App';
import { useSignedIn } from './session-context';
import { StatusBadge } from './StatusBadge';
import { LiveIndicator, useLiveChanges } from './use-live-changes';

const HELD: [keyof ReviewView['held'], string][] = [
  ['instances', 'Instances'],
  ['nodes', 'Nodes'],
  ['pods', 'Pods'],
  ['services', 'Services'],
  ['networkPolicies', 'Network policies'],
];

function Review({ review, onDone }: { review: ReviewView; onDone(message: string): void }) {
  const { api } = useSignedIn();
  const [comment, setComment] = useState('');
  const [problem, setProblem] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const commentId = useId();
  const problemId = useId();

  const act = async (what: 'retry' | 'resolve', event?: FormEvent) => {
    event?.preventDefault();
    setBusy(true);
    try {
      await api('POST', `/admin/simulations/${review.id}/${what}`, what === 'resolve' ? { comment } : undefined);
      setProblem(null);
      onDone(what === 'retry' ? `Cleanup of ${review.id.slice(0, 8)} asked for again.` : `${review.id.slice(0, 8)} resolved.`);
    } catch (error) {
      setProblem(error instanceof ApiError ? error.message : 'The gateway cannot be reached.');
    } finally {
      setBusy(false);
    }
  };
  const held = HELD.filter(([key]) => review.held[key].length > 0);

  return (
    <article className="review" aria-labelledby={`review-${review.id}`}>
      <h2 id={`review-${review.id}`}>
        <Link to={`/simulation/${review.id}`} className="mono">
          {review.id.slice(0, 8)}
        </Link>{' '}
        <StatusBadge status={review.status} /> <span className="muted">owned by {review.owner}</span>
      </h2>
      <h3>May still hold</h3>
      {held.length === 0 ? (
        <p className="muted">Nothing recorded.</p>
      ) : (
        <dl className="facts">
          {held.map(([key, label]) => (
            <div key={key}>
              <dt>{label}</dt>
              <dd className="mono">{review.held[key].join(', ')}</dd>
            </div>
          ))}
        </dl>
      )}
      <h3>Failures</h3>
      <ol className="timeline">
        {review.failures.map((f, i) => (
          <li key={i} className="failed">
            <time dateTime={f.at}>{new Date(f.at).toLocaleString()}</time>
            <span className="event-type">{f.kind}</span>
            <span className="event-detail">
              {f.stage}/{f.step}: {f.error.code} {f.error.message} (attempt {f.attempt})
            </span>
          </li>
        ))}
      </ol>
      {problem && (
        <p id={problemId} className="field-error" role="alert">
          {problem}
        </p>
      )}
      <div className="actions">
        <button type="button" onClick={() => void act('retry')} disabled={busy}>
          Retry the cleanup
        </button>
      </div>
      <form className="resolve" onSubmit={(e) => void act('resolve', e)} noValidate>
        <label htmlFor={commentId}>What was done by hand (closes the review)</label>
        <input id={commentId} value={comment} onChange={(e) => setComment(e.target.value)} aria-describedby={problem ? problemId : undefined} />
        <button type="submit" className="secondary" disabled={busy}>
          Resolve
        </button>
      </form>
    </article>
  );
}

export function Reviews() {
  usePageTitle('Reviews');
  const { api } = useSignedIn();
  const [reviews, setReviews] = useState<ReviewView[] | null>(null);
  const [problem, setProblem] = useState<string | null>(null);
  const [done, setDone] = useState<string | null>(null);

  // Bumped to read the reviews again.
  const [version, setVersion] = useState(0);
  const reload = () => setVersion((v) => v + 1);
  useEffect(() => {
    let cancelled = false;
    api<ReviewView[]>('GET', '/admin/reviews').then(
      (list) => {
        if (cancelled) return;
        setReviews(list);
        setProblem(null);
      },
      (error: unknown) => !cancelled && setProblem(error instanceof ApiError ? error.message : 'The gateway cannot be reached.'),
    );
    return () => {
      cancelled = true;
    };
  }, [api, version]);

  // A deployment enters or leaves review: read the list again.
  const onChange = (change: SimulationChange) => {
    const listed = reviews?.some((r) => r.id === change.deploymentId) ?? false;
    if (listed || change.view.errorStatus === 'AdminReview') reload();
  };
  const live = useLiveChanges('', { onChange, onReady: (resumed) => !resumed && reload() });

  return (
    <section aria-labelledby="reviews-title">
      <div className="page-head">
        <h1 id="reviews-title" tabIndex={-1}>
          Reviews
        </h1>
        <LiveIndicator state={live} />
      </div>
      <p className="hint">Deployments the error handler gave up on: check what they may still hold, then retry the cleanup or resolve them.</p>
      {problem && (
        <p className="notice" role="alert">
          {problem}
        </p>
      )}
      {done && (
        <p className="done" role="status">
          {done}
        </p>
      )}
      {reviews && reviews.length === 0 && <p className="empty">Nothing to review.</p>}
      {reviews?.map((r) => (
        <Review
          key={r.id}
          review={r}
          onDone={(message) => {
            setDone(message);
            reload();
          }}
        />
      ))}
    </section>
  );
}
