import { useState } from 'preact/hooks';
import { ApiFailure, callApi } from '../api/client.js';
import { ErrorNote } from '../components/issues.js';

/** Who is signed in, as `GET /console/api/session` answers. */
export interface SessionInfo {
  user: string;
  expires: string;
}

/**
 * The sign-in form. Credentials go in a JSON POST body to `/console/api/session` and are
 * forgotten by the page at once; the server answers with an HttpOnly session cookie.
 */
export function SignIn({ onSignedIn }: { onSignedIn(session: SessionInfo): void }) {
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);

  async function submit(event: Event) {
    event.preventDefault();
    const form = event.currentTarget as HTMLFormElement;
    const data = new FormData(form);
    setBusy(true);
    setError(undefined);
    try {
      const { body } = await callApi<SessionInfo>('POST', '/session', {
        body: { user: String(data.get('user') ?? ''), password: String(data.get('password') ?? '') },
      });
      form.reset();
      onSignedIn(body);
    } catch (err) {
      setError(
        err instanceof ApiFailure && err.status === 401
          ? 'Wrong user name or password.'
          : (err as Error).message,
      );
    } finally {
      setBusy(false);
    }
  }

  return (
    <main class="sign-in">
      <h1>authz console</h1>
      {/* method=post: even without the script, credentials never land in a URL. */}
      <form method="post" onSubmit={submit} aria-describedby="sign-in-help">
        <p id="sign-in-help" class="muted">
          Sign in with the config service's admin credentials (CONFIG_ADMIN_USER / CONFIG_ADMIN_PASSWORD).
        </p>
        <label for="user">User</label>
        <input id="user" name="user" autocomplete="username" required />
        <label for="password">Password</label>
        <input id="password" name="password" type="password" autocomplete="current-password" required />
        <button type="submit" disabled={busy}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
        <ErrorNote message={error} />
      </form>
    </main>
  );
}
