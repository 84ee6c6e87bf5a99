import { createHash, randomBytes } from 'node:crypto';

/** Lifetimes and bounds of console sessions. */
export interface SessionLimits {
  /** A session unused this long ends, ms (default 30 minutes). */
  idleMs: number;
  /** A session ends this long after sign-in however busy it is, ms (default 12 hours). */
  absoluteMs: number;
  /** Sessions held at once; signing in past it ends the oldest (default 64). */
  maxSessions: number;
}

/** Defaults of {@link SessionLimits}. */
export const DEFAULT_SESSION_LIMITS: SessionLimits = {
  idleMs: 30 * 60_000,
  absoluteMs: 12 * 60 * 60_000,
  maxSessions: 64,
};

/** A signed-in console user, as the server remembers it. Never holds a credential. */
export interface ConsoleSession {
  user: string;
  /** epoch ms */
  created: number;
  /** epoch ms of the last request made with it */
  lastSeen: number;
  /** epoch ms after which it is refused whatever its use */
  expires: number;
}

// The map is keyed by a SHA-256 of the session id, so a heap dump or a debug print of the map
// does not hand out usable cookies, and a lookup is a hash-table probe on a digest rather than a
// comparison of the secret (no timing oracle on the id itself).
const keyOf = (id: string) => createHash('sha256').update(id, 'utf8').digest('base64url');

/** Ids are 32 random bytes, base64url: what the cookie carries and nothing else. */
const ID = /^[A-Za-z0-9_-]{43}$/;

/**
 * Server-side console sessions: a random id in the cookie, everything else here. Sessions end
 * after {@link SessionLimits.idleMs} unused, {@link SessionLimits.absoluteMs} after sign-in, on
 * sign-out, and when the process restarts (nothing is persisted).
 *
 * @example
 * const sessions = new SessionStore();
 * const { id } = sessions.create('admin');
 * sessions.get(id)?.user; // 'admin'
 */
export class SessionStore {
  private readonly sessions = new Map<string, ConsoleSession>();
  /** What to end with a session: its open responses (the decisions stream above all). */
  private readonly attached = new Map<string, Set<() => void>>();
  private readonly limits: SessionLimits;

  constructor(
    limits: Partial<SessionLimits> = {},
    private readonly now: () => number = Date.now,
  ) {
    this.limits = { ...DEFAULT_SESSION_LIMITS, ...limits };
  }

  /** Starts a session for `user`; returns the id for the cookie. */
  create(user: string): { id: string; session: ConsoleSession } {
    this.sweep();
    while (this.sessions.size >= this.limits.maxSessions) {
      // Map iteration is insertion order: the first key is the oldest session.
      const oldest = this.sessions.keys().next().value;
      if (oldest === undefined) break;
      this.end(oldest);
    }
    const id = randomBytes(32).toString('base64url');
    const now = this.now();
    const session = { user, created: now, lastSeen: now, expires: now + this.limits.absoluteMs };
    this.sessions.set(keyOf(id), session);
    return { id, session };
  }

  /** The live session of `id` (and marks it used), or `undefined`. */
  get(id: string | undefined): ConsoleSession | undefined {
    if (id === undefined || !ID.test(id)) return undefined;
    const key = keyOf(id);
    const session = this.sessions.get(key);
    if (!session) return undefined;
    const now = this.now();
    if (this.expired(session, now)) {
      this.end(key);
      return undefined;
    }
    session.lastSeen = now;
    return session;
  }

  /** Ends the session of `id` and whatever is attached to it; true when there was one. */
  revoke(id: string | undefined): boolean {
    if (id === undefined || !ID.test(id)) return false;
    return this.end(keyOf(id));
  }

  /**
   * Runs `close` when the session of `id` ends (sign-out, expiry, eviction), so a long-lived
   * stream does not outlive the session that opened it. Returns the function that detaches it.
   */
  attach(id: string, close: () => void): () => void {
    const key = keyOf(id);
    let set = this.attached.get(key);
    if (!set) {
      set = new Set();
      this.attached.set(key, set);
    }
    set.add(close);
    return () => {
      set.delete(close);
      if (set.size === 0 && this.attached.get(key) === set) this.attached.delete(key);
    };
  }

  /** Ends every expired session (also done on each sign-in; call it now and then for streams). */
  sweep(): void {
    const now = this.now();
    for (const [key, session] of this.sessions) if (this.expired(session, now)) this.end(key);
  }

  /** Sessions currently held (expired ones are dropped first). */
  get size(): number {
    this.sweep();
    return this.sessions.size;
  }

  /** Seconds the cookie should live: the absolute lifetime. */
  get cookieMaxAge(): number {
    return Math.floor(this.limits.absoluteMs / 1000);
  }

  private expired(session: ConsoleSession, now: number): boolean {
    return now >= session.expires || now - session.lastSeen >= this.limits.idleMs;
  }

  private end(key: string): boolean {
    const existed = this.sessions.delete(key);
    const closers = this.attached.get(key);
    this.attached.delete(key);
    for (const close of closers ?? []) close();
    return existed;
  }
}
