import { hashToken, MAX_TOKEN_BYTES, type RevokeEvent } from '@authz/protocol';
import type { ConfigDeps } from '../deps.js';
import { readParsedBody } from '../http/body.js';
import { ApiError, invalidResource } from '../http/errors.js';
import type { Route } from '../http/router.js';

/** Largest revoke body: a token plus form/JSON framing. */
const MAX_REVOKE_BODY = MAX_TOKEN_BYTES + 1024;
/** Opaque introspectors whose cached results are cleared; far above any real deployment. */
const MAX_INTROSPECTORS = 10_000;

/**
 * `POST /$revoke` (body `token=<token>` or `{"token": …}`): forgets everything cached for one
 * token across the cluster. Redis entries of every opaque introspector are deleted, then
 * `{token_hash}` is broadcast on `<prefix>.v1.revoke` so each worker drops its in-process
 * entries. The token itself is hashed at once and never logged, stored or published.
 */
export function revokeRoute(deps: ConfigDeps): Route {
  return {
    method: 'POST',
    path: '/$revoke',
    async handle(ctx) {
      const { value } = await readParsedBody(ctx.req, MAX_REVOKE_BODY, ['form', 'json']);
      const token = (value as { token?: unknown } | null)?.token;
      if (typeof token !== 'string' || token.length === 0 || token.length > MAX_TOKEN_BYTES) {
        throw invalidResource([
          {
            code: 'required',
            diagnostics: `must be the token, 1 to ${MAX_TOKEN_BYTES} characters`,
            expression: 'token',
          },
        ]);
      }
      const tokenHash = hashToken(token);
      const redis = await clearShared(deps, tokenHash);
      const event: RevokeEvent = { token_hash: tokenHash };
      deps.nc.publish(deps.subjects.revoke, JSON.stringify(event));
      await deps.nc.flush();
      deps.metrics.revocations.inc();
      ctx.log.info({ token_hash: tokenHash, redis }, 'token revoked');
      if (redis === 'failed') {
        // Workers forgot the token, but Redis may still hand its cached result back: say so.
        throw new ApiError(
          'ERR_UNAVAILABLE',
          'workers were told to forget the token, but Redis could not be cleared; retry the revocation',
        );
      }
      return { status: 200, body: { revoked: true, token_hash: tokenHash } };
    },
  };
}

async function clearShared(
  deps: ConfigDeps,
  tokenHash: string,
): Promise<'cleared' | 'failed' | 'not-configured'> {
  const shared = deps.revocationCache;
  if (!shared) return 'not-configured';
  const { items } = await deps.store.list('TokenIntrospector', MAX_INTROSPECTORS);
  const keys = items
    .filter((item) => item.resource.type === 'opaque' && typeof item.resource.id === 'string')
    .map((item) => deps.engines.introspectionCacheKey(item.resource.id as string, tokenHash));
  if (keys.length === 0) return 'cleared';
  if (!shared.ready()) return 'failed';
  const failuresBefore = shared.failures();
  // Delete and bump each key's revocation generation, so a result a worker fetched while this
  // revocation happened cannot be written back afterwards.
  if (shared.cache.revoke) await shared.cache.revoke(...keys);
  else await shared.cache.del(...keys);
  return shared.failures() === failuresBefore && shared.ready() ? 'cleared' : 'failed';
}
