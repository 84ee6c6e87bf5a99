import { type ResourceType, resourceKey } from '@authz/protocol';
import { JetStreamApiCodes, JetStreamApiError } from '@nats-io/jetstream';
import type { KV, KvEntry } from '@nats-io/kv';
import { ApiError } from '../http/errors.js';
import { DEFAULT_STORE_RETRY_MS, isTransientStoreError, retryAcrossElection } from './election-retry.js';

/** A resource as stored, with its KV revision (the `ETag`). */
export interface StoredResource {
  resource: Record<string, unknown>;
  revision: number;
  /** When this revision was written. */
  updated: Date;
}

/**
 * Conditions on a write, from `If-Match` / `If-None-Match` (RFC 9110 §13.1): `match` lists the
 * revisions the caller last saw (`'any'` for `*`); `noneMatch` asks for create-only.
 */
export interface Precondition {
  match?: readonly number[] | 'any';
  noneMatch?: boolean;
}

/** Optimistic-concurrency retries for unconditional writes racing each other. */
const MAX_WRITE_ATTEMPTS = 5;
/** `Retry-After` of a write that outlasted the retry budget (RFC 9110 §10.2.3). */
const RETRY_AFTER_S = 2;
/** Parallel gets while listing. */
const LIST_CONCURRENCY = 32;

const encoder = new TextEncoder();

/**
 * Resources in the JetStream KV bucket `authz_config`, key `<resourceType>.<id>`, value the
 * resource as JSON (DESIGN §5). Every write is compare-and-set on the key's last revision, so a
 * conditional write can never silently overwrite a newer one, and `created` is always exact.
 *
 * A write that meets a JetStream leader election (a NATS node lost) is retried for up to
 * `retryMs` (services/config/README.md "Writes during a NATS node loss"), then answered 503.
 */
export class ResourceStore {
  constructor(
    private readonly kv: KV,
    private readonly retryMs: number = DEFAULT_STORE_RETRY_MS,
  ) {}

  /** The live resource, or `undefined` when absent or deleted. */
  async get(type: ResourceType, id: string): Promise<StoredResource | undefined> {
    const entry = await this.guard(() => this.kv.get(resourceKey(type, id)));
    return entry ? decode(entry) : undefined;
  }

  /**
   * Creates or replaces a resource. Resolves with the new revision and whether it was created;
   * throws 412 when `precondition` does not hold.
   */
  async put(
    type: ResourceType,
    id: string,
    resource: Record<string, unknown>,
    precondition: Precondition = {},
  ): Promise<{ revision: number; created: boolean }> {
    const key = resourceKey(type, id);
    const json = JSON.stringify(resource);
    const data = encoder.encode(json);
    // What the key held before a write whose outcome we did not learn (its reply was lost).
    let unsure: { before: StoredResource | undefined } | undefined;
    return this.retrying(async () => {
      for (let attempt = 1; ; attempt++) {
        const current = await this.read(key);
        // Our lost-reply write landed: answer as if its reply had arrived.
        const landed =
          unsure &&
          current?.revision !== unsure.before?.revision &&
          JSON.stringify(current?.resource) === json;
        if (landed && current) return { revision: current.revision, created: !unsure?.before };
        unsure = undefined;
        checkPrecondition(current, precondition, `${type}/${id}`);
        try {
          const revision = current
            ? await this.kv.update(key, data, current.revision)
            : await this.kv.create(key, data);
          return { revision, created: !current };
        } catch (err) {
          // Someone wrote between our read and our write: read again and re-check the precondition.
          if (!isWrongLastSequence(err)) {
            unsure = { before: current };
            throw err;
          }
          if (attempt >= MAX_WRITE_ATTEMPTS) throw contended(type, id, err);
        }
      }
    });
  }

  /** Deletes a resource and resolves with what was deleted; `undefined` when there was none. */
  async delete(
    type: ResourceType,
    id: string,
    precondition: Precondition = {},
  ): Promise<StoredResource | undefined> {
    const key = resourceKey(type, id);
    // What the key held before a delete whose outcome we did not learn (its reply was lost).
    let unsure: StoredResource | undefined;
    return this.retrying(async () => {
      for (let attempt = 1; ; attempt++) {
        const current = await this.read(key);
        if (!current) {
          // Our lost-reply delete landed: answer with what it deleted.
          if (unsure) return unsure;
          if (precondition.match !== undefined) checkPrecondition(current, precondition, `${type}/${id}`);
          return undefined;
        }
        unsure = undefined;
        checkPrecondition(current, precondition, `${type}/${id}`);
        try {
          await this.kv.delete(key, { previousSeq: current.revision });
          return current;
        } catch (err) {
          if (!isWrongLastSequence(err)) {
            unsure = current;
            throw err;
          }
          if (attempt >= MAX_WRITE_ATTEMPTS) throw contended(type, id, err);
        }
      }
    });
  }

  /** Up to `limit` resources of a type, ordered by id, and how many exist. */
  async list(type: ResourceType, limit: number): Promise<{ total: number; items: StoredResource[] }> {
    const keys = await this.guard(async () => {
      const out: string[] = [];
      for await (const key of await this.kv.keys(`${type}.>`)) out.push(key);
      return out;
    });
    keys.sort();
    const wanted = keys.slice(0, limit);
    const items: StoredResource[] = [];
    let vanished = 0;
    for (let i = 0; i < wanted.length; i += LIST_CONCURRENCY) {
      const batch = wanted.slice(i, i + LIST_CONCURRENCY);
      const entries = await this.guard(() => Promise.all(batch.map((key) => this.kv.get(key))));
      for (const entry of entries) {
        const stored = entry ? decode(entry) : undefined;
        if (stored) items.push(stored);
        else vanished++; // deleted while listing
      }
    }
    return { total: keys.length - vanished, items };
  }

  private async read(key: string): Promise<StoredResource | undefined> {
    const entry = await this.kv.get(key);
    return entry ? decode(entry) : undefined;
  }

  /**
   * Runs a write across a JetStream leader election: transient failures are retried for
   * `retryMs`; what still fails is a 503 that says so (never a guess about the outcome).
   */
  private async retrying<T>(write: () => Promise<T>): Promise<T> {
    const started = Date.now();
    try {
      return await retryAcrossElection(write, this.retryMs);
    } catch (err) {
      if (!isTransientStoreError(err)) throw unavailable(err);
      const waited = Math.round((Date.now() - started) / 100) / 10;
      throw new ApiError(
        'ERR_UNAVAILABLE',
        `the configuration store (NATS JetStream) did not confirm the write within ${waited} s: ` +
          'the config bucket has no JetStream leader (NATS unreachable, or a node lost and no quorum); retry',
        { cause: err, headers: { 'retry-after': String(RETRY_AFTER_S) } },
      );
    }
  }

  private async guard<T>(op: () => Promise<T>): Promise<T> {
    try {
      return await op();
    } catch (err) {
      throw unavailable(err);
    }
  }
}

function decode(entry: KvEntry): StoredResource | undefined {
  if (entry.operation !== 'PUT') return undefined;
  return {
    resource: entry.json<Record<string, unknown>>(),
    revision: entry.revision,
    updated: entry.created,
  };
}

function checkPrecondition(
  current: StoredResource | undefined,
  precondition: Precondition,
  name: string,
): void {
  const { match, noneMatch } = precondition;
  if (noneMatch && current) {
    throw new ApiError('ERR_PRECONDITION_FAILED', `${name} already exists (If-None-Match: *)`);
  }
  if (match === undefined) return;
  if (!current) {
    throw new ApiError('ERR_PRECONDITION_FAILED', `${name} does not exist, so If-Match cannot hold`);
  }
  if (match !== 'any' && !match.includes(current.revision)) {
    throw new ApiError(
      'ERR_PRECONDITION_FAILED',
      `${name} is at revision ${current.revision}, not ${match.join(' or ')}: it changed since you read it`,
    );
  }
}

function isWrongLastSequence(err: unknown): boolean {
  return (
    err instanceof JetStreamApiError &&
    (err.code === JetStreamApiCodes.StreamWrongLastSequence ||
      err.code === JetStreamApiCodes.StreamWrongLastSequenceUnknown)
  );
}

function unavailable(err: unknown): ApiError {
  if (err instanceof ApiError) return err;
  return new ApiError('ERR_UNAVAILABLE', 'the configuration store (NATS JetStream) is unavailable; retry', {
    cause: err,
  });
}

function contended(type: string, id: string, cause: unknown): ApiError {
  return new ApiError('ERR_UNAVAILABLE', `${type}/${id} is being written concurrently; retry`, { cause });
}
