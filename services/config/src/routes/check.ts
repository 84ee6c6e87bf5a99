import { MAX_CHECK_REQUEST_BYTES, REQUEST_ID_HEADER, wire } from '@authz/protocol';
import { headers as natsHeaders } from '@nats-io/transport-node';
import type { ConfigDeps } from '../deps.js';
import { readParsedBody } from '../http/body.js';
import { ApiError, invalidResource } from '../http/errors.js';
import type { Route } from '../http/router.js';
import { ajvIssues } from '../validate/schema.js';

/**
 * `POST /$check`: runs one check request through the cluster, exactly as a gateway would, with
 * `explain` on, and answers the worker's CheckReply. No worker answering is a 503, never a guess.
 */
export function checkRoute(deps: ConfigDeps): Route {
  return {
    method: 'POST',
    path: '/$check',
    async handle(ctx) {
      const { value } = await readParsedBody(ctx.req, MAX_CHECK_REQUEST_BYTES, ['json', 'yaml']);
      if (!wire.CheckRequest.check(value))
        throw invalidResource(ajvIssues(wire.CheckRequest.problems(value), ''));
      const h = natsHeaders();
      h.set(REQUEST_ID_HEADER, ctx.requestId);
      let reply: unknown;
      try {
        const msg = await deps.nc.request(deps.subjects.check, JSON.stringify({ ...value, explain: true }), {
          timeout: deps.checkTimeoutMs,
          headers: h,
        });
        reply = msg.json();
      } catch (err) {
        throw new ApiError(
          'ERR_UNAVAILABLE',
          `no decision worker answered on ${deps.subjects.check} within ${deps.checkTimeoutMs} ms`,
          { cause: err },
        );
      }
      const problem = wire.CheckReply.firstProblem(reply);
      if (problem)
        throw new ApiError(
          'ERR_UNAVAILABLE',
          `a decision worker sent a reply that is not a CheckReply: ${problem}`,
        );
      return { status: 200, body: reply };
    },
  };
}
