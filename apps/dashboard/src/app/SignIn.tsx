import { FormEvent, useEffect, useId, useState } from 'react';
import { sessionOf } from '../lib/session';

interface LocalToken {
  name: string;
  token: string;
}

/** Tokens `npm start` offers on this machine; the page says so with a meta tag (never in production). */
function useLocalTokens(): LocalToken[] {
  const [tokens, setTokens] = useState<LocalToken[]>([]);
  useEffect(() => {
    const endpoint = document.querySelector<HTMLMetaElement>('meta[name="simdeploy-local-tokens"]')?.content;
    if (!endpoint) return;
    let cancelled = false;
    void fetch(endpoint, { headers: { accept: 'application/json' } })
      .then((r) => (r.ok ? (r.json() as Promise<{ tokens: LocalToken[] }>) : { tokens: [] }))
      .then((body) => !cancelled && setTokens(body.tokens))
      .catch(() => undefined);
    return () => {
      cancelled = true;
    };
  }, []);
  return tokens;
}

export function SignIn({ onSignIn, notice }: { onSignIn(token: string): void; notice: string | null }) {
  const [token, setToken] = useState('');
  const [problem, setProblem] = useState<string | null>(null);
  const localTokens = useLocalTokens();
  const inputId = useId();
  const hintId = useId();
  const problemId = useId();

  useEffect(() => {
    document.title = 'Sign in · simdeploy';
  }, []);

  const submit = (event: FormEvent) => {
    event.preventDefault();
    const session = sessionOf(token);
    if (typeof session === 'string') {
      setProblem(session);
      return;
    }
    onSignIn(session.token);
  };

  return (
    <main id="main" className="sign-in">
      <h1>Sign in to simdeploy</h1>
      {notice && (
        <p className="notice" role="alert">
          {notice}
        </p>
      )}
      <form onSubmit={submit} noValidate>
        <label htmlFor={inputId}>Bearer token</label>
        <p id={hintId} className="hint">
          Paste the JWT your identity provider gave you. It stays in this tab only.
        </p>
        <textarea
          id={inputId}
          value={token}
          onChange={(e) => setToken(e.target.value)}
          rows={4}
          spellCheck={false}
          autoComplete="off"
          aria-describedby={problem ? `${hintId} ${problemId}` : hintId}
          aria-invalid={problem ? true : undefined}
        />
        {problem && (
          <p id={problemId} className="field-error">
            {problem}
          </p>
        )}
        <button type="submit">Sign in</button>
      </form>
      {localTokens.length > 0 && (
        <section aria-labelledby="local-tokens" className="local-tokens">
          <h2 id="local-tokens">Tokens from npm start</h2>
          <p className="hint">This gateway runs on this machine and offers the tokens it printed.</p>
          <ul>
            {localTokens.map((t) => (
              <li key={t.name}>
                <button type="button" className="secondary" onClick={() => onSignIn(t.token)}>
                  Sign in as {t.name}
                </button>
              </li>
            ))}
          </ul>
        </section>
      )}
    </main>
  );
}
