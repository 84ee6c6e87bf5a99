import { useEffect, useMemo, useState } from 'preact/hooks';
import { callApi, whenSignedOut } from './api/client.js';
import { DecisionFeed } from './decisions/feed.js';
import { DecisionsPage } from './pages/decisions.js';
import { ResourcesPage } from './pages/resources.js';
import { type SessionInfo, SignIn } from './pages/sign-in.js';
import { TestPolicyPage } from './pages/test-policy.js';
import { TryRequestPage } from './pages/try-request.js';
import { parseRoute, type Route } from './route.js';

const PAGES: ReadonlyArray<{ page: Route['page']; hash: string; title: string }> = [
  { page: 'resources', hash: '#/resources', title: 'Resources' },
  { page: 'try', hash: '#/try', title: 'Try a request' },
  { page: 'test', hash: '#/test', title: 'Test a policy' },
  { page: 'decisions', hash: '#/decisions', title: 'Decisions' },
];

/** The console: sign-in until there is a session, then the four pages behind a nav bar. */
export function App() {
  const [session, setSession] = useState<SessionInfo | null | undefined>(undefined);
  const [route, setRoute] = useState(() => parseRoute(location.hash));
  const feed = useMemo(() => new DecisionFeed(), []);

  useEffect(() => {
    const onHash = () => setRoute(parseRoute(location.hash));
    addEventListener('hashchange', onHash);
    whenSignedOut(() => setSession(null));
    callApi<SessionInfo>('GET', '/session')
      .then(({ body }) => setSession(body))
      .catch(() => setSession(null));
    return () => removeEventListener('hashchange', onHash);
  }, []);

  useEffect(() => {
    // The stream runs while signed in, so decisions made on other pages are in the table.
    if (session) feed.connect();
    else feed.close();
  }, [session, feed]);

  useEffect(() => {
    const title = PAGES.find((p) => p.page === route.page)?.title ?? 'Console';
    document.title = `${title} · authz console`;
  }, [route]);

  if (session === undefined) return <p class="muted loading">Loading…</p>;
  if (session === null) return <SignIn onSignedIn={setSession} />;

  async function signOut() {
    await callApi('DELETE', '/session').catch(() => {});
    setSession(null);
  }

  return (
    <>
      <a class="skip-link" href="#main">
        Skip to content
      </a>
      <header class="top">
        <span class="brand">authz console</span>
        <nav aria-label="Pages">
          {PAGES.map((p) => (
            <a key={p.page} href={p.hash} aria-current={route.page === p.page ? 'page' : undefined}>
              {p.title}
            </a>
          ))}
        </nav>
        <span class="who">
          signed in as <strong>{session.user}</strong>
        </span>
        <button type="button" onClick={signOut}>
          Sign out
        </button>
      </header>
      <main id="main" tabIndex={-1}>
        {route.page === 'resources' ? (
          <ResourcesPage type={route.type} id={route.id} creating={route.creating ?? false} />
        ) : null}
        {route.page === 'try' ? <TryRequestPage /> : null}
        {route.page === 'test' ? <TestPolicyPage /> : null}
        {route.page === 'decisions' ? <DecisionsPage feed={feed} /> : null}
      </main>
    </>
  );
}
