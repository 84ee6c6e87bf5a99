import { runClusterFlight } from '../cache/cluster-flight.js';
import { MemorySharedCache } from '../cache/memory-shared-cache.js';
import type { SharedCache } from '../cache/shared-cache.js';
import { InvalidTokenError, VerifierUnavailableError } from '../errors.js';
import { silentLogger, type VerifiedIdentity, type VerifierLogger, type VerifierMetrics } from '../types.js';
import {
  type CachedResult,
  cachedResult,
  decodeShared,
  encodeShared,
  introspectionCacheKey,
  introspectionLockKey,
  memoKey,
  ResultMemo,
} from './cache.js';
import {
  compileOpaqueIntrospector,
  type IntrospectionClientOptions,
  type IntrospectorRecord,
  type OpaqueIntrospectorConfig,
  sameIntrospector,
} from './config.js';
import { callIntrospectionEndpoint, type IntrospectionAnswer } from './endpoint.js';
import { OPAQUE_SHAPE, routeToken, type TokenShape, unroutedTokenError } from './routing.js';

/** Lock lifetime beyond the call deadline: covers the winner's Redis write after its answer. */
const LOCK_MARGIN_MS = 500;

/** What one introspector contributed to a resolution. */
type FlightOutcome =
  | { kind: 'result'; result: CachedResult }
  | { kind: 'unavailable'; reason: string; cause?: unknown };

/** One in-process call in progress for (introspector, token); concurrent callers share it. */
interface Flight {
  readonly record: IntrospectorRecord;
  /** Set by `revoke` / `close`: the outcome must not be cached. */
  cancelled: boolean;
  promise: Promise<FlightOutcome>;
}

/**
 * Opaque-token verification by RFC 7662 introspection, with in-process and cluster-wide caches.
 *
 * A token is asked only of the introspectors {@link routeToken} picks for it (its `token_prefix`,
 * or for a JWT of an issuer no jwt introspector trusts, `jwt_issuers`); among those, the winner
 * is the lowest id (in code unit order) answering `active: true`. Introspectors are awaited in id order while
 * all run concurrently, so the result is known as soon as every lower id has answered (inactive or
 * unavailable) — a slow higher id never delays it, a slow lower id delays it at most `timeoutMs`.
 *
 * Results are cached per (introspector, token hash) in memory and in the shared cache: active
 * for min(cache_ttl, exp − now), inactive for the negative TTL, failures never. One process makes
 * one call per uncached token at a time; across processes {@link runClusterFlight} elects one
 * caller while the others poll for its result (and call themselves when the lock holder fails or
 * Redis is down).
 *
 * @example
 * const client = new IntrospectionClient({ sharedCache, metrics });
 * client.setIntrospectors([{ id: 'idp', url: 'https://idp.example.com/introspect', authorization: 'Basic …', cacheTtlSeconds: 300 }]);
 * const identity = await client.introspect(token, hashToken(token)); // identity.claims is `token` in the policy context
 */
export class IntrospectionClient {
  private introspectors: readonly IntrospectorRecord[] = [];
  private readonly memo: ResultMemo;
  private readonly flights = new Map<string, Flight>();
  private readonly shared: SharedCache;
  private readonly logger: VerifierLogger;
  private readonly metrics: VerifierMetrics;
  private readonly now: () => number;
  private readonly insecureHosts: readonly string[];
  private readonly timeoutMs: number;
  private readonly maxResponseBytes: number;
  private readonly negativeTtlMs: number;

  constructor(options: IntrospectionClientOptions = {}) {
    this.shared = options.sharedCache ?? new MemorySharedCache({ now: options.now });
    this.logger = options.logger ?? silentLogger;
    this.metrics = options.metrics ?? {};
    this.now = options.now ?? Date.now;
    this.insecureHosts = options.insecureHosts ?? [];
    this.timeoutMs = options.timeoutMs ?? 2000;
    this.maxResponseBytes = options.maxResponseBytes ?? 64 * 1024;
    this.negativeTtlMs = (options.negativeTtlSeconds ?? 10) * 1000;
    this.memo = new ResultMemo(options.maxEntries ?? 100_000);
  }

  /** Number of configured opaque introspectors. */
  get size(): number {
    return this.introspectors.length;
  }

  /**
   * Replaces the configured introspectors. Cached results of introspectors that are gone or whose
   * URL, authorization or cache_ttl changed are dropped; the others are kept.
   */
  setIntrospectors(list: readonly OpaqueIntrospectorConfig[]): void {
    const previous = new Map(this.introspectors.map((r) => [r.id, r]));
    const seen = new Set<string>();
    const next: IntrospectorRecord[] = [];
    for (const config of [...list].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))) {
      if (seen.has(config.id)) continue;
      seen.add(config.id);
      const old = previous.get(config.id);
      const record =
        old !== undefined && sameIntrospector(old, config)
          ? old
          : compileOpaqueIntrospector(config, this.insecureHosts);
      if (record !== old && record.urlProblem !== undefined) {
        this.logger.warn(
          { introspector: record.id, reason: record.urlProblem },
          'introspection endpoint URL refused; tokens it would accept get 503',
        );
      }
      next.push(record);
    }
    const live = new Set(next);
    const changed = this.introspectors.some((record) => !live.has(record));
    this.introspectors = next;
    // Config revisions are frequent (any resource); scan the memo only when an introspector changed.
    if (changed) this.memo.retain((record) => live.has(record));
    for (const [key, flight] of this.flights) {
      if (live.has(flight.record)) continue;
      flight.cancelled = true;
      this.flights.delete(key);
    }
  }

  /**
   * The identity an opaque token stands for. Only the introspectors {@link routeToken} picks for
   * the token are asked (DESIGN §11: `token_prefix`, `jwt_issuers`); with none,
   * {@link unroutedTokenError} (401). Throws {@link InvalidTokenError} (`ERR_TOKEN_INACTIVE`) or
   * {@link VerifierUnavailableError} (`ERR_INTROSPECTION_UNAVAILABLE`) when no introspector asked
   * says active and one could not answer. The returned identity is shared between callers and
   * frozen: do not mutate it.
   */
  async introspect(
    token: string,
    tokenHash: string,
    shape: TokenShape = OPAQUE_SHAPE,
  ): Promise<VerifiedIdentity> {
    const list = routeToken(this.introspectors, token, shape);
    if (list.length === 0) throw unroutedTokenError(shape, this.introspectors.length > 0);
    const now = this.now();
    let ask: IntrospectorRecord[] | undefined;
    let cachedActive: VerifiedIdentity | undefined;
    // In id order: cached inactive → skip; cached active → it wins unless a lower id still has to be asked.
    for (const record of list) {
      const hit = this.memo.get(record, tokenHash, now);
      this.metrics.cacheLookup?.('memory', 'introspection', hit !== undefined);
      if (hit === undefined) {
        ask ??= [];
        ask.push(record);
      } else if (hit.identity !== undefined) {
        cachedActive = hit.identity;
        break;
      }
    }
    if (ask === undefined) {
      if (cachedActive !== undefined) return cachedActive;
      throw inactiveError(list);
    }
    return this.resolve(ask, token, tokenHash, cachedActive, list);
  }

  /** Forgets everything cached for the token, in this process and in the shared cache. */
  async revoke(tokenHash: string): Promise<void> {
    const keys: string[] = [];
    for (const record of this.introspectors) {
      this.memo.delete(record.id, tokenHash);
      const key = memoKey(record.id, tokenHash);
      const flight = this.flights.get(key);
      if (flight !== undefined) {
        flight.cancelled = true;
        this.flights.delete(key);
      }
      keys.push(introspectionCacheKey(record.id, tokenHash));
    }
    if (keys.length > 0) await this.shared.revoke(...keys);
  }

  /** Drops every cached result; calls in progress finish without caching. */
  close(): void {
    for (const flight of this.flights.values()) flight.cancelled = true;
    this.flights.clear();
    this.memo.clear();
  }

  private async resolve(
    ask: readonly IntrospectorRecord[],
    token: string,
    tokenHash: string,
    cachedActive: VerifiedIdentity | undefined,
    list: readonly IntrospectorRecord[],
  ): Promise<VerifiedIdentity> {
    const outcomes = ask.map((record) => this.flight(record, token, tokenHash));
    const unavailable: Array<{ id: string; reason: string; cause?: unknown }> = [];
    // All calls run at once; awaiting them in id order decides as soon as every lower id answered.
    for (const [i, pending] of outcomes.entries()) {
      const outcome = await pending;
      if (outcome.kind === 'result') {
        if (outcome.result.identity !== undefined) return outcome.result.identity;
      } else {
        unavailable.push({ id: ask[i]!.id, reason: outcome.reason, cause: outcome.cause });
      }
    }
    if (cachedActive !== undefined) return cachedActive;
    const [first, ...others] = unavailable;
    if (first === undefined) throw inactiveError(list);
    const also =
      others.length === 0 ? '' : ` (nor could ${others.map((u) => `TokenIntrospector/${u.id}`).join(', ')})`;
    throw new VerifierUnavailableError(
      'ERR_INTROSPECTION_UNAVAILABLE',
      `the token could not be checked: the introspection endpoint of TokenIntrospector/${first.id} ${first.reason}${also}`,
      { introspector: first.id, cause: first.cause },
    );
  }

  /** Joins the call in progress for (record, token) or starts one. Never rejects. */
  private flight(record: IntrospectorRecord, token: string, tokenHash: string): Promise<FlightOutcome> {
    const key = memoKey(record.id, tokenHash);
    const running = this.flights.get(key);
    if (running !== undefined && running.record === record) return running.promise;
    const flight: Flight = {
      record,
      cancelled: false,
      promise: Promise.resolve({ kind: 'unavailable', reason: '' }),
    };
    flight.promise = this.fly(flight, token, tokenHash)
      .catch(
        (err: unknown): FlightOutcome => ({ kind: 'unavailable', reason: 'failed unexpectedly', cause: err }),
      )
      .finally(() => {
        if (this.flights.get(key) === flight) this.flights.delete(key);
      });
    this.flights.set(key, flight);
    return flight.promise;
  }

  private async fly(flight: Flight, token: string, tokenHash: string): Promise<FlightOutcome> {
    const { record } = flight;
    const shared = this.shared;
    const cacheKey = introspectionCacheKey(record.id, tokenHash);
    // The first read also takes the token's revocation generation: a result fetched from here on
    // is shared only if no revocation happened meanwhile (see SharedCache.revoke).
    const first = await shared.getWithGeneration(cacheKey);
    const stored = decodeShared(first.value, record, this.now(), this.negativeTtlMs);
    this.metrics.cacheLookup?.('redis', 'introspection', stored !== undefined);
    if (stored !== undefined) return this.remember(flight, tokenHash, stored);
    const target = { key: cacheKey, generation: first.generation };
    return runClusterFlight(shared, {
      lockKey: introspectionLockKey(cacheKey),
      lockTtlMs: this.timeoutMs + LOCK_MARGIN_MS,
      waitMs: this.timeoutMs,
      read: async () => {
        const peer = decodeShared(await shared.get(cacheKey), record, this.now(), this.negativeTtlMs);
        return peer === undefined ? undefined : this.remember(flight, tokenHash, peer);
      },
      // A holder that failed publishes nothing: waiters see the lock gone and call themselves.
      fetch: () => this.callEndpoint(flight, token, tokenHash, target),
    });
  }

  private async callEndpoint(
    flight: Flight,
    token: string,
    tokenHash: string,
    target: { key: string; generation: string },
  ): Promise<FlightOutcome> {
    const { record } = flight;
    const answer = await callIntrospectionEndpoint(record, token, {
      timeoutMs: this.timeoutMs,
      maxResponseBytes: this.maxResponseBytes,
      now: this.now(),
    });
    this.metrics.introspectionCall?.(answer.kind !== 'unavailable');
    if (answer.kind === 'unavailable') {
      this.logger.warn(
        { introspector: record.id, reason: answer.reason },
        'introspection endpoint unavailable',
      );
      return answer;
    }
    const at = this.now();
    const result = cachedResult(record, answer, at, this.negativeTtlMs);
    if (!flight.cancelled && result.expiresAt > at)
      await this.share(target, record, answer, token, result, at);
    return this.remember(flight, tokenHash, result);
  }

  /** Writes a definite answer to the shared cache, unless it would carry the token or a revocation intervened. */
  private async share(
    target: { key: string; generation: string },
    record: IntrospectorRecord,
    answer: Exclude<IntrospectionAnswer, { kind: 'unavailable' }>,
    token: string,
    result: CachedResult,
    at: number,
  ): Promise<void> {
    const value = encodeShared(record, answer, at);
    // An endpoint that echoes the token back must not get it stored in Redis (DESIGN §9).
    if (value.includes(token)) {
      this.logger.warn({ introspector: record.id }, 'introspection response contains the token; not shared');
      return;
    }
    const ttlSeconds = Math.ceil((result.expiresAt - at) / 1000);
    await this.shared.setIfGeneration(target.key, value, ttlSeconds, target.generation);
  }

  private remember(flight: Flight, tokenHash: string, result: CachedResult): FlightOutcome {
    if (!flight.cancelled) this.memo.set(tokenHash, result);
    return { kind: 'result', result };
  }
}

function inactiveError(list: readonly IntrospectorRecord[]): InvalidTokenError {
  const names = list.map((r) => `TokenIntrospector/${r.id}`).join(', ');
  return new InvalidTokenError('ERR_TOKEN_INACTIVE', `the token is not active according to ${names}`, {
    introspector: list.length === 1 ? list[0]!.id : undefined,
  });
}
