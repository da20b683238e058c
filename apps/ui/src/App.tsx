import { lazy, Suspense, useState, type FormEvent } from 'react';
import { api, messageOf, session, unwrap } from './api';
import { Loading } from './components/States';
import { useRoute } from './router';

// Each page is its own chunk: the editor (CodeMirror) and the charts (uPlot) load only with the pages that use them.
const Playground = lazy(() => import('./pages/Playground').then((m) => ({ default: m.Playground })));
const JobsPage = lazy(() => import('./pages/Jobs').then((m) => ({ default: m.JobsPage })));
const ExperimentsPage = lazy(() => import('./pages/Experiments').then((m) => ({ default: m.ExperimentsPage })));
const ModelsPage = lazy(() => import('./pages/Models').then((m) => ({ default: m.ModelsPage })));
const DeploymentsPage = lazy(() => import('./pages/Deployments').then((m) => ({ default: m.DeploymentsPage })));

const NAV: Array<[string, string]> = [
  ['playground', 'Playground'],
  ['jobs', 'Jobs'],
  ['experiments', 'Experiments'],
  ['models', 'Models'],
  ['deployments', 'Deployments'],
];

/** Asks for the API key once per browser session and checks it against the API before keeping it. */
function KeyForm({ onReady }: { onReady: () => void }) {
  const [key, setKey] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    session.set(key.trim());
    try {
      await unwrap(api().GET('/jobs', { params: { query: { limit: 1 } } }));
      onReady();
    } catch (err) {
      session.clear();
      setError(messageOf(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <main className="key-form">
      <h1>Neural DSL Platform</h1>
      <form onSubmit={submit} aria-describedby="key-help">
        <label htmlFor="api-key">API key</label>
        <input id="api-key" name="api-key" type="password" autoComplete="off" value={key} onChange={(e) => setKey(e.target.value)} required autoFocus />
        <p id="key-help" className="hint">
          Kept for this browser tab only. Everything you see belongs to the key&apos;s tenant.
        </p>
        {error && (
          <p className="state error" role="alert">
            {error}
          </p>
        )}
        <button type="submit" disabled={busy || !key.trim()}>
          {busy ? 'Checking…' : 'Continue'}
        </button>
      </form>
    </main>
  );
}

export function App() {
  const [ready, setReady] = useState(session.key !== null);
  const route = useRoute();
  if (!ready) return <KeyForm onReady={() => setReady(true)} />;
  const [page = 'playground', ...rest] = route;
  return (
    <>
      <a className="skip" href="#main">
        Skip to content
      </a>
      <header className="top">
        <span className="brand">Neural DSL</span>
        <nav aria-label="Main">
          {NAV.map(([id, label]) => (
            <a key={id} href={`#/${id}`} aria-current={page === id ? 'page' : undefined}>
              {label}
            </a>
          ))}
        </nav>
        <button
          type="button"
          className="link"
          onClick={() => {
            session.clear();
            setReady(false);
          }}
        >
          Sign out
        </button>
      </header>
      <main id="main" tabIndex={-1}>
        <Suspense fallback={<Loading what="the page" />}>
          {page === 'playground' && <Playground />}
          {page === 'jobs' && <JobsPage params={rest} />}
          {page === 'experiments' && <ExperimentsPage params={rest} />}
          {page === 'models' && <ModelsPage params={rest} />}
          {page === 'deployments' && <DeploymentsPage params={rest} />}
        </Suspense>
        {!NAV.some(([id]) => id === page) && <p className="state empty">No page {page}.</p>}
      </main>
    </>
  );
}
