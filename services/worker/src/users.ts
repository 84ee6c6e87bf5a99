import { FHIR_ID_PATTERN, resourceKey, type User } from '@authz/protocol';
import type { KV } from '@authz/runtime';
import { LruMap } from '@authz/verifier';

const VALID_ID = new RegExp(FHIR_ID_PATTERN);

/** Pauses before re-reading a User after a failed KV read (a JetStream leader moving, say). */
const RETRY_DELAYS_MS = [50, 200];

/** The User could not be read from KV (after retries): the decision is a 503, never a guess. */
export class UserLookupError extends Error {
  readonly code = 'ERR_USER_LOOKUP';
  constructor(id: string, cause: unknown) {
    super(
      `User/${id} could not be read from the configuration store (NATS KV) right now: ${(cause as Error)?.message ?? cause}; retry shortly`,
      { cause },
    );
    this.name = 'UserLookupError';
  }
}

/**
 * Users fetched from KV on demand. There may be millions of them, so only a bounded number
 * are kept; a missing User is cached too (it is not an error, DESIGN §6 step 4). The KV watch
 * invalidates entries when a User changes.
 */
export class UserDirectory {
  private readonly cache: LruMap<string, User | null>;
  private readonly pending = new Map<string, Promise<User | undefined>>();
  // Bumped on invalidation so a fetch that raced with a change never caches the old value.
  private readonly generation = new Map<string, number>();

  constructor(
    private readonly kv: KV,
    private readonly maxEntries: number,
  ) {
    this.cache = new LruMap(Math.max(1, maxEntries));
  }

  /**
   * The User, `undefined` when none exists. Synchronous when cached; a KV read that fails is
   * retried twice within ~250 ms, then rejects with {@link UserLookupError}.
   */
  get(id: string): User | undefined | Promise<User | undefined> {
    // A claim that is not a FHIR id can name no stored User (and must never reach KV as a
    // wildcard or malformed key): it is simply "no such User", not an error.
    if (!VALID_ID.test(id) || id.startsWith('.') || id.endsWith('.') || id.includes('..')) return undefined;
    const cached = this.cache.get(id);
    if (cached !== undefined) return cached ?? undefined;
    return this.pending.get(id) ?? this.fetch(id);
  }

  /** Forgets a user after a change seen on the KV watch. */
  invalidate(id: string): void {
    this.cache.delete(id);
    if (this.pending.has(id)) this.generation.set(id, (this.generation.get(id) ?? 0) + 1);
  }

  /** Forgets every user (after a watch gap, when invalidations may have been missed). */
  clear(): void {
    this.cache.clear();
    for (const id of this.pending.keys()) this.generation.set(id, (this.generation.get(id) ?? 0) + 1);
  }

  get size(): number {
    return this.cache.size;
  }

  private fetch(id: string): Promise<User | undefined> {
    const startGeneration = this.generation.get(id) ?? 0;
    const promise = this.read(id)
      .then((entry) => {
        const user = entry && entry.operation === 'PUT' ? ({ ...entry.json<User>(), id } as User) : undefined;
        if ((this.generation.get(id) ?? 0) === startGeneration) this.remember(id, user ?? null);
        return user;
      })
      .finally(() => {
        this.pending.delete(id);
        if (!this.pending.has(id)) this.generation.delete(id);
      });
    this.pending.set(id, promise);
    return promise;
  }

  private async read(id: string): Promise<Awaited<ReturnType<KV['get']>>> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.kv.get(resourceKey('User', id));
      } catch (err) {
        const delay = RETRY_DELAYS_MS[attempt];
        if (delay === undefined) throw new UserLookupError(id, err);
        await new Promise((resolve) => setTimeout(resolve, delay));
      }
    }
  }

  private remember(id: string, user: User | null): void {
    if (this.maxEntries > 0) this.cache.set(id, user);
  }
}
