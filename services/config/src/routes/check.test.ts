import { REQUEST_ID_HEADER, subjects } from '@authz/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ConfigFixture, startConfigFixture } from '../testing/fixture.js';

let config: ConfigFixture;
beforeAll(async () => {
  config = await startConfigFixture();
});
afterAll(async () => {
  await config?.close();
});

const json = { 'content-type': 'application/json' };

describe('POST /$check', () => {
  it('answers 503 when no worker answers', async () => {
    const res = await config.request('/$check', {
      method: 'POST',
      body: '{"method":"GET","uri":"/"}',
      headers: json,
    });
    expect(res.status).toBe(503);
    const outcome = (await res.json()) as { issue: Array<{ code: string; diagnostics: string }> };
    expect(outcome.issue[0]).toEqual({
      severity: 'error',
      code: 'transient',
      diagnostics: 'no decision worker answered on authz.v1.check within 500 ms',
    });
  });

  it('forwards the request with explain on and returns the worker reply', async () => {
    const seen: Array<{ body: Record<string, unknown>; requestId: string | undefined }> = [];
    const sub = config.nc.subscribe(subjects(config.prefix).check, {
      queue: 'authz-workers',
      callback: (_err, msg) => {
        seen.push({ body: msg.json(), requestId: msg.headers?.get(REQUEST_ID_HEADER) });
        msg.respond(JSON.stringify({ allow: false, status: 403, reason: 'no policy allows', explain: [] }));
      },
    });
    try {
      const res = await config.request('/$check', {
        method: 'POST',
        body: 'method: GET\nuri: /fhir/Patient\nheaders:\n  authorization: Bearer abc\n',
        headers: { 'content-type': 'text/yaml', 'x-request-id': 'req-123' },
      });
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({
        allow: false,
        status: 403,
        reason: 'no policy allows',
        explain: [],
      });
      expect(seen).toEqual([
        {
          body: {
            method: 'GET',
            uri: '/fhir/Patient',
            headers: { authorization: 'Bearer abc' },
            explain: true,
          },
          requestId: 'req-123',
        },
      ]);
    } finally {
      sub.unsubscribe();
    }
  });

  it('refuses a malformed check request with 422 naming the field', async () => {
    const res = await config.request('/$check', { method: 'POST', body: '{"method":"GET"}', headers: json });
    expect(res.status).toBe(422);
    const outcome = (await res.json()) as { issue: Array<{ expression: string[]; diagnostics: string }> };
    expect(outcome.issue).toEqual([
      { severity: 'error', code: 'required', diagnostics: 'is required', expression: ['uri'] },
    ]);
  });
});
