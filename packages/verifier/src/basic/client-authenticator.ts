import { createHmac, randomBytes } from 'node:crypto';
import { LruMap } from '../cache/lru.js';
import { decoyHash, verifySecret } from '../secrets/scrypt.js';
import type { BasicCredentials } from './credentials.js';
import { FailureThrottle } from './throttle.js';

/** A Client resource as configuration holds it (`secret` a scrypt hash). */
export type ClientResource = Record<string, unknown>;

/** Why Basic client authentication failed (a stable code, DESIGN §12). */
export type ClientAuthFailure = 'throttled' | 'bad_credentials' | 'no_basic_grant';

/** The outcome of {@link ClientAuthenticator.authenticate}. */
export type ClientAuthResult =
  | { client: ClientResource }
  | { failure: ClientAuthFailure; reason: string; retryAfter?: number };

/** Options of {@link ClientAuthenticator}. */
export interface ClientAuthenticatorOptions {
  /** The configured Client with this id. */
  client(id: string): ClientResource | undefined;
  throttle?: FailureThrottle;
  /** Verified credentials remembered (default 10 000). */
  maxCached?: number;
}

const BAD: ClientAuthResult = {
  failure: 'bad_credentials',
  // One sentence for an unknown client and a wrong secret: the reply never tells which.
  reason: 'the Basic credentials name no Client with that secret',
};

/**
 * Authenticates `Authorization: Basic base64(id:secret)` against a `Client` (Aidbox; DESIGN §12):
 * the Client must exist, its stored `secret` (a scrypt hash) must match in constant time, and its
 * `grant_types` must hold `basic`. The Client is returned without its `secret`.
 *
 * scrypt costs tens of milliseconds by design, so a verified credential is remembered — under an
 * HMAC with a per-process key, never the secret itself — for as long as the Client keeps the same
 * secret hash. An unknown client costs a scrypt run too (no timing tells it apart from a wrong
 * secret). Failures are counted per client address ({@link FailureThrottle}).
 */
export class ClientAuthenticator {
  private readonly key = randomBytes(32);
  /** credential digest → the secret hash it was verified against */
  private readonly verified: LruMap<string, string>;
  private readonly pending = new Map<string, Promise<boolean>>();
  private readonly stripped = new WeakMap<ClientResource, ClientResource>();
  private readonly throttle: FailureThrottle;

  constructor(private readonly options: ClientAuthenticatorOptions) {
    this.verified = new LruMap(options.maxCached ?? 10_000);
    this.throttle = options.throttle ?? new FailureThrottle();
    // Made now, so that the first unknown client costs one scrypt run, as a known one does.
    void decoyHash();
  }

  /** Synchronous for a credential verified before; else after one scrypt run. */
  authenticate(credentials: BasicCredentials, address: string): ClientAuthResult | Promise<ClientAuthResult> {
    const throttled = this.throttled(address);
    if (throttled) return throttled;
    const client = this.options.client(credentials.id);
    const hash = typeof client?.secret === 'string' ? client.secret : undefined;
    const digest = createHmac('sha256', this.key)
      .update(`${credentials.id}\0${credentials.secret}`)
      .digest('base64url');
    if (client !== undefined && hash !== undefined && this.verified.get(digest) === hash)
      return this.accepted(client, address);
    return this.verify(digest, credentials.secret, hash).then((ok) => {
      // Guesses sent at once all passed the check above before any scrypt run ended: one that
      // ends after its address went over the limit is answered as throttled, right or wrong, so
      // concurrency buys an attacker no more guesses than sending them one by one.
      const late = this.throttled(address);
      if (late) return late;
      // The configuration may have changed while scrypt ran: decide on the Client as it is now.
      const now = this.options.client(credentials.id);
      if (!ok || now === undefined || now.secret !== hash || hash === undefined) {
        this.throttle.fail(address);
        return BAD;
      }
      this.verified.set(digest, hash);
      return this.accepted(now, address);
    });
  }

  /** The refusal for an address that must wait, or `undefined` when it may try. */
  private throttled(address: string): ClientAuthResult | undefined {
    const wait = this.throttle.retryAfter(address);
    if (wait === 0) return undefined;
    return {
      failure: 'throttled',
      reason: `too many failed Basic sign-ins from this address; try again in ${wait} s`,
      retryAfter: wait,
    };
  }

  private verify(digest: string, secret: string, hash: string | undefined): Promise<boolean> {
    if (hash === undefined)
      return decoyHash()
        .then((decoy) => verifySecret(secret, decoy))
        .then(() => false);
    // Concurrent requests with the same credentials share one scrypt run.
    const key = `${digest} ${hash}`;
    let running = this.pending.get(key);
    if (running === undefined) {
      running = verifySecret(secret, hash).finally(() => this.pending.delete(key));
      this.pending.set(key, running);
    }
    return running;
  }

  private accepted(client: ClientResource, address: string): ClientAuthResult {
    const grants = client.grant_types;
    if (!Array.isArray(grants) || !grants.includes('basic')) {
      return {
        failure: 'no_basic_grant',
        reason: `Client/${String(client.id)} may not authenticate with HTTP Basic: its grant_types lack "basic"`,
      };
    }
    this.throttle.succeed(address);
    return { client: this.visible(client) };
  }

  /** The Client as policies see it: never its secret (DESIGN §12), one copy per Client object. */
  visible(client: ClientResource): ClientResource {
    let copy = this.stripped.get(client);
    if (copy === undefined) {
      const { secret: _secret, ...rest } = client;
      copy = Object.freeze(rest);
      this.stripped.set(client, copy);
    }
    return copy;
  }
}
