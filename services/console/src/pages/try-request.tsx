import { useState } from 'preact/hooks';
import { callApi } from '../api/client.js';
import type { CheckReply } from '../api/types.js';
import { ExplainList } from '../components/explain.js';
import { ErrorNote } from '../components/issues.js';
import { buildCheckRequest, type RequestForm } from '../request/build.js';

const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS'];

// Kept in memory only (never storage, never the URL) so switching pages does not lose the form.
let remembered: RequestForm = { method: 'GET', uri: '/fhir/Patient', headers: '', token: '', body: '' };
let rememberedReply: CheckReply | undefined;

/**
 * Try a request: method, URI, headers and a pasted token go to `POST /$check`, which runs them
 * through the cluster exactly as a gateway would; the decision, who the token resolved to, and
 * each candidate policy's explanation are shown.
 */
export function TryRequestPage() {
  const [form, setForm] = useState(remembered);
  const [reply, setReply] = useState(rememberedReply);
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);

  const update = (field: keyof RequestForm) => (e: Event) => {
    const next = { ...form, [field]: (e.target as HTMLInputElement).value };
    remembered = next;
    setForm(next);
  };

  async function send(event: Event) {
    event.preventDefault();
    const built = buildCheckRequest(form);
    if ('error' in built) {
      setError(built.error);
      return;
    }
    setBusy(true);
    setError(undefined);
    // The previous decision goes at once, so an old answer is never read as the new one.
    rememberedReply = undefined;
    setReply(undefined);
    try {
      const { body } = await callApi<CheckReply>('POST', '/$check', { body: built.request });
      rememberedReply = body;
      setReply(body);
    } catch (err) {
      setError((err as Error).message);
    } finally {
      setBusy(false);
    }
  }

  return (
    <div class="two-columns">
      <form class="try-form" onSubmit={send} aria-labelledby="try-title">
        <h2 id="try-title">Try a request</h2>
        <div class="row">
          <div class="field narrow">
            <label for="try-method">Method</label>
            <input id="try-method" list="methods" value={form.method} onInput={update('method')} required />
            <datalist id="methods">
              {METHODS.map((m) => (
                <option key={m} value={m} />
              ))}
            </datalist>
          </div>
          <div class="field grow">
            <label for="try-uri">URI (path and query)</label>
            <input id="try-uri" value={form.uri} onInput={update('uri')} required spellcheck={false} />
          </div>
        </div>
        <label for="try-token">Bearer token</label>
        <textarea
          id="try-token"
          class="mono"
          rows={3}
          value={form.token}
          onInput={update('token')}
          spellcheck={false}
          autocomplete="off"
          placeholder="paste a JWT or opaque token (sent as Authorization: Bearer …)"
        />
        <label for="try-headers">Other headers, one "Name: value" per line</label>
        <textarea
          id="try-headers"
          class="mono"
          rows={4}
          value={form.headers}
          onInput={update('headers')}
          spellcheck={false}
        />
        <label for="try-body">Body (JSON, optional)</label>
        <textarea
          id="try-body"
          class="mono"
          rows={3}
          value={form.body}
          onInput={update('body')}
          spellcheck={false}
        />
        <div class="actions">
          <button type="submit" disabled={busy}>
            {busy ? 'Checking…' : 'Check'}
          </button>
        </div>
        <ErrorNote message={error} />
      </form>
      <section class="result" aria-live="polite" aria-label="Decision">
        {reply ? <Decision reply={reply} /> : <p class="muted">The decision appears here.</p>}
      </section>
    </div>
  );
}

function Decision({ reply }: { reply: CheckReply }) {
  const who = reply.identity;
  return (
    <div class="decision" data-status={reply.status}>
      <h2>
        <span class={`status-code ${reply.allow ? 'ok' : 'bad'}`}>{reply.status}</span>{' '}
        {reply.allow ? 'allowed' : 'denied'}
      </h2>
      <dl class="facts">
        <dt>reason</dt>
        <dd class="reason">{reply.reason}</dd>
        {reply.error ? <Fact name="error" value={reply.error} /> : null}
        {reply.policy ? <Fact name="policy" value={reply.policy} /> : null}
        <Fact name="introspector" value={who?.introspector ?? '—'} />
        <Fact name="user" value={who?.user ?? '—'} />
        {who?.sub ? <Fact name="subject" value={who.sub} /> : null}
        {who?.iss ? <Fact name="issuer" value={who.iss} /> : null}
        {who?.client ? <Fact name="client" value={who.client} /> : null}
        {reply.revision !== undefined ? <Fact name="config revision" value={String(reply.revision)} /> : null}
      </dl>
      <h3>Explain</h3>
      <ExplainList entries={reply.explain ?? []} />
    </div>
  );
}

function Fact({ name, value }: { name: string; value: string }) {
  return (
    <>
      <dt>{name}</dt>
      <dd class={`fact-${name.replace(/\s+/g, '-')}`}>{value}</dd>
    </>
  );
}
