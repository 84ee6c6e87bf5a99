import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { VerifierUnavailableError } from '../errors.js';

/**
 * Remembers DPoP proof ids for as long as their proofs are acceptable (RFC 9449 §11.1). Keys are
 * hashes (no client-chosen text reaches Redis). `claim` resolves `fresh` the first time a key is
 * seen, `replayed` afterwards, and rejects with {@link VerifierUnavailableError} when it cannot
 * tell — never `fresh` on a doubt, so a store outage can never open a replay window.
 */
export interface DpopReplayStore {
  /** `issuedAtMs`: the proof's `iat`, so a store that lost its memory can refuse older proofs. */
  claim(key: string, ttlMs: number, issuedAtMs: number): Promise<'fresh' | 'replayed'>;
  /** `cluster`: one store for every worker (Redis); `worker`: this process only. */
  readonly scope: 'cluster' | 'worker';
}

const unavailable = (cause?: unknown) =>
  new VerifierUnavailableError(
    'ERR_DPOP_REPLAY_CHECK_UNAVAILABLE',
    'DPoP proofs cannot be checked for replay right now (the shared replay store, Redis, does not answer), so DPoP requests are refused until it is back; retry shortly.',
    cause === undefined ? undefined : { cause },
  );

/**
 * One script per proof, atomic in Redis. An epoch key (no expiry) names the store's memory: when
 * a worker that knew an epoch finds none or another one, Redis lost its data (a restart without
 * persistence, a flush, a failover to an empty replica) and the ids of proofs used before are
 * gone. Every proof that could have been used before that moment — `iat` earlier than the reset
 * plus one acceptance window — is then refused ("reset"), so no replay window opens.
 *
 * KEYS: epoch, jti. ARGV: epoch id this worker knew ('' none), now ms, proof iat ms, window ms,
 * a new epoch id, jti ttl ms. Returns {outcome, epoch value "<id>:<reset ms>"}.
 */
const CLAIM_SCRIPT = `
local epoch = redis.call('GET', KEYS[1])
if not epoch then
  local resetAt = '0'
  if ARGV[1] ~= '' then resetAt = ARGV[2] end
  epoch = ARGV[5] .. ':' .. resetAt
  redis.call('SET', KEYS[1], epoch)
end
local sep = string.find(epoch, ':', 1, true)
local id = string.sub(epoch, 1, sep - 1)
local resetAt = tonumber(string.sub(epoch, sep + 1))
if ARGV[1] ~= '' and id ~= ARGV[1] and resetAt == 0 then
  resetAt = tonumber(ARGV[2])
  epoch = id .. ':' .. ARGV[2]
  redis.call('SET', KEYS[1], epoch)
end
if tonumber(ARGV[3]) < resetAt + tonumber(ARGV[4]) then return {'reset', epoch} end
if redis.call('SET', KEYS[2], '1', 'PX', ARGV[6], 'NX') then return {'fresh', epoch} end
return {'replayed', epoch}
`;

type ClaimCommand = (...args: Array<string | number>) => Promise<[string, string]>;

/**
 * The cluster-wide store: one atomic script per proof (`SET jti NX PX ttl` behind an epoch check,
 * see CLAIM_SCRIPT). An error, or no answer within `timeoutMs`, rejects: DPoP fails closed with
 * 503 while Redis is down or slow, and for one proof window after Redis comes back without its
 * data. Give it a connection of its own whose command timeout is only a backstop: the deadline is
 * kept here (see {@link withDeadline}), so that a busy worker does not mistake its own lateness
 * for Redis's.
 */
export class RedisReplayStore implements DpopReplayStore {
  readonly scope = 'cluster';
  private knownEpoch = '';
  private readonly claimScript: ClaimCommand;

  constructor(
    redis: Redis,
    private readonly windowMs: number,
    private readonly timeoutMs: number,
    private readonly prefix = 'authz:dpop:',
    private readonly now: () => number = Date.now,
  ) {
    redis.defineCommand('authzDpopClaim', { numberOfKeys: 2, lua: CLAIM_SCRIPT });
    const command = (redis as unknown as { authzDpopClaim: ClaimCommand }).authzDpopClaim;
    this.claimScript = command.bind(redis);
  }

  async claim(key: string, ttlMs: number, issuedAtMs: number): Promise<'fresh' | 'replayed'> {
    const now = this.now();
    let outcome: string;
    let epoch: string;
    try {
      const claimed = this.claimScript(
        `${this.prefix}epoch`,
        `${this.prefix}jti:${key}`,
        this.knownEpoch,
        now,
        issuedAtMs,
        this.windowMs,
        randomUUID(),
        Math.max(1, Math.ceil(ttlMs)),
      );
      [outcome, epoch] = await withDeadline(claimed, this.timeoutMs);
    } catch (err) {
      throw unavailable(err);
    }
    this.knownEpoch = epoch.slice(0, epoch.indexOf(':'));
    if (outcome === 'reset') throw resetRefusal(Number(epoch.slice(epoch.indexOf(':') + 1)) + this.windowMs);
    return outcome === 'fresh' ? 'fresh' : 'replayed';
  }
}

/**
 * `work`, or a rejection once `ms` passed without an answer — measured fairly. A timer can fire
 * while the answer already waits in the socket (the worker was busy, or descheduled on a loaded
 * host: Node runs due timers before it reads sockets), so when it fires the I/O phase gets one
 * turn (`setImmediate` runs after it) before the deadline counts as missed.
 */
export function withDeadline<T>(work: Promise<T>, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let settled = false;
    const settle = (finish: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      finish();
    };
    const timer = setTimeout(
      () => setImmediate(() => settle(() => reject(new Error(`no answer within ${ms} ms`)))),
      ms,
    );
    work.then(
      (value) => settle(() => resolve(value)),
      (err: unknown) => settle(() => reject(err)),
    );
  });
}

function resetRefusal(untilMs: number): VerifierUnavailableError {
  return new VerifierUnavailableError(
    'ERR_DPOP_REPLAY_CHECK_UNAVAILABLE',
    `The DPoP replay store (Redis) lost its memory of used proofs, so proofs issued before ${new Date(untilMs).toISOString()} are refused (one proof window); retry with a fresh proof after that.`,
  );
}

/**
 * A per-process store, for a worker run without Redis (one worker, or tests): replays to the
 * same worker are caught; replays to another worker are not, which is why a cluster configures
 * Redis (README "Sender-constrained tokens"). Bounded: when full of unexpired ids it refuses
 * (503) rather than forget one.
 */
export class MemoryReplayStore implements DpopReplayStore {
  readonly scope = 'worker';
  private readonly seen = new Map<string, number>();

  constructor(
    private readonly maxEntries = 1_000_000,
    private readonly now: () => number = Date.now,
  ) {}

  async claim(key: string, ttlMs: number): Promise<'fresh' | 'replayed'> {
    const now = this.now();
    const until = this.seen.get(key);
    if (until !== undefined && until > now) return 'replayed';
    this.expireOldest(now, 2);
    if (this.seen.size >= this.maxEntries) this.expireOldest(now, Number.POSITIVE_INFINITY);
    if (this.seen.size >= this.maxEntries) throw unavailable();
    // Map order is insertion order: delete first so a re-used expired key moves to the end.
    this.seen.delete(key);
    this.seen.set(key, now + ttlMs);
    return 'fresh';
  }

  /**
   * Drops up to `limit` expired ids from the front. Ids are kept in insertion order and share
   * one window, so the oldest expire first: two per claim keep the map at the window's size.
   */
  private expireOldest(now: number, limit: number): void {
    let dropped = 0;
    for (const [key, until] of this.seen) {
      if (until > now || dropped >= limit) return;
      this.seen.delete(key);
      dropped++;
    }
  }
}
