import { JetStreamApiError } from '@nats-io/jetstream';
import { errors as natsErrors } from '@nats-io/transport-node';

/**
 * How long a configuration write keeps retrying while JetStream cannot take it (default of
 * `CONFIG_STORE_RETRY_MS`). A stream leader that dies is replaced after NATS's Raft election
 * timeout (4–9 s in nats-server) plus a vote; 15 s covers one election with room to spare.
 */
export const DEFAULT_STORE_RETRY_MS = 15_000;
/** First pause between attempts; doubles up to {@link MAX_PAUSE_MS}. */
const FIRST_PAUSE_MS = 100;
const MAX_PAUSE_MS = 1000;

/**
 * Whether a failed store request may succeed once JetStream has a leader again: a timeout, "no
 * responders" (no stream leader took the request; nats.js reports a publish that met none as
 * "jetstream is not enabled", with the no-responders error as its cause), a connection that is
 * reconnecting, or JetStream's own 503 ("JetStream system temporarily unavailable"). A 4xx from
 * JetStream (a permanent refusal) and a closed connection are not retried.
 */
export function isTransientStoreError(err: unknown): boolean {
  for (let e = err, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    if (e instanceof JetStreamApiError) return e.status >= 500;
    if (e instanceof natsErrors.ClosedConnectionError) return false;
    if (
      e instanceof natsErrors.TimeoutError ||
      e instanceof natsErrors.NoRespondersError ||
      e instanceof natsErrors.ConnectionError
    )
      return true;
  }
  return false;
}

/**
 * Runs `attempt` until it resolves, fails with an error that is not transient, or `budgetMs` has
 * passed since the first try; then rethrows the last error. An attempt started inside the budget
 * runs to its own end (a JetStream request is bounded by its API timeout, 5 s), so the whole call
 * is bounded by `budgetMs` plus one request.
 */
export async function retryAcrossElection<T>(attempt: () => Promise<T>, budgetMs: number): Promise<T> {
  const deadline = Date.now() + budgetMs;
  for (let pause = FIRST_PAUSE_MS; ; pause = Math.min(pause * 2, MAX_PAUSE_MS)) {
    try {
      return await attempt();
    } catch (err) {
      if (!isTransientStoreError(err) || Date.now() + pause > deadline) throw err;
    }
    await new Promise((resolve) => setTimeout(resolve, pause));
  }
}
