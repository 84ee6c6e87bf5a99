import { type CheckReply, subjects, wire } from '@authz/protocol';
import { freePort, hsReaders, mintJwt, startCluster, type TestCluster } from '@authz/test-support';
import type { Msg, Subscription } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// The wire as schemas (STYLE "Seams between packages"): every message a running cluster sends is
// checked against its one schema in @authz/protocol — the replies and decision events the
// workers write by hand, the revoke event the config service broadcasts, and the replies the
// config service's own HTTP API passes on.

const ISS = 'https://wire.test';
const SECRET = 'wire-test-secret-0123456789';

let cluster: TestCluster;
let metricsUrl: string;
let events: Subscription;
const seen: { decisions: unknown[]; revokes: unknown[] } = { decisions: [], revokes: [] };

const token = (claims: Record<string, unknown>) =>
  mintJwt({ key: SECRET, alg: 'HS256', claims: { iss: ISS, sub: 'u1', azp: 'app-1', ...claims } });
const hour = () => Math.floor(Date.now() / 1000) + 3600;

beforeAll(async () => {
  cluster = await startCluster({ workers: 0, gateway: false });
  const port = await freePort();
  await cluster.addWorker({ WORKER_HTTP_PORT: String(port) });
  metricsUrl = `http://127.0.0.1:${port}/metrics`;
  const puts = hsReaders(ISS, SECRET);
  for (const [path, body] of puts) expect((await cluster.admin('PUT', path, body)).status).toBe(201);
  const collect = (into: unknown[]) => (_err: Error | null, msg: Msg) => {
    into.push(msg.json());
  };
  events = cluster.nc.subscribe(subjects().decisions, { callback: collect(seen.decisions) });
  cluster.nc.subscribe(subjects().revoke, { callback: collect(seen.revokes) });
  await cluster.nc.flush();
  // The configuration reaches the worker: a GET with a good token is allowed.
  const good = await token({ exp: hour() });
  for (let tries = 0; (await check('GET', good)).status !== 200; tries++) {
    if (tries > 150) throw new Error('the configuration did not reach the worker within 15 s');
    await new Promise((r) => setTimeout(r, 100));
  }
}, 60_000);
afterAll(async () => {
  events?.unsubscribe();
  await cluster?.stop();
});

async function check(
  method: string,
  bearer?: string,
  extra: Record<string, unknown> = {},
): Promise<CheckReply> {
  const body = {
    method,
    uri: '/fhir/Patient/1',
    headers: bearer === undefined ? {} : { authorization: `Bearer ${bearer}` },
    ...extra,
  };
  const msg = await cluster.nc.request(subjects().check, JSON.stringify(body), { timeout: 2000 });
  const reply: unknown = msg.json();
  expect(wire.CheckReply.firstProblem(reply), JSON.stringify(reply)).toBeUndefined();
  return reply as CheckReply;
}

describe('the wire of a running cluster matches @authz/protocol', () => {
  it('check replies of every status, with explain, are valid CheckReplies', async () => {
    const good = await token({ exp: hour() });
    expect(await check('GET', good)).toMatchObject({ allow: true, status: 200, policy: 'readers' });
    expect(await check('GET', good, { explain: true })).toMatchObject({ status: 200 });
    expect(await check('DELETE', good, { explain: true })).toMatchObject({ allow: false, status: 403 });
    expect(await check('GET')).toMatchObject({ status: 401, error: 'invalid_token' });
    expect(await check('GET', 'not-a-jwt')).toMatchObject({ status: 401 });
    const malformed = await cluster.nc.request(subjects().check, '{"uri":"/x"}', { timeout: 2000 });
    expect(wire.CheckReply.firstProblem(malformed.json())).toBeUndefined();
    expect(malformed.json()).toMatchObject({
      status: 400,
      reason: "malformed check request: request must have required property 'method'",
    });
  });

  it("the verifier's stable code reaches the reply, the decision event and the denials-by-code metric", async () => {
    const expired = await token({ exp: Math.floor(Date.now() / 1000) - 600 });
    const reply = await check('GET', expired);
    expect(reply).toMatchObject({ status: 401, error: 'invalid_token', error_code: 'ERR_JWT_EXPIRED' });
    await expect
      .poll(() => seen.decisions.find((e) => (e as { request_id?: string }).request_id === reply.request_id))
      .toMatchObject({ status: 401, error_code: 'ERR_JWT_EXPIRED' });
    const metrics = await (await fetch(metricsUrl)).text();
    expect(metrics).toMatch(
      /^authz_denials_by_code_total\{code="ERR_JWT_EXPIRED",service="authz-worker"\} 1$/m,
    );
  });

  it('every decision event published is a valid DecisionEvent, with the client of the token', async () => {
    await expect.poll(() => seen.decisions.length).toBeGreaterThanOrEqual(7);
    for (const event of seen.decisions)
      expect(wire.DecisionEvent.firstProblem(event), JSON.stringify(event)).toBeUndefined();
    expect(seen.decisions.find((e) => (e as { allow?: boolean }).allow)).toMatchObject({
      client: 'app-1',
      user: 'u1',
    });
  });

  it('the revoke event the config service broadcasts and the reply of its POST /$check are valid', async () => {
    const good = await token({ exp: hour() });
    const revoked = await cluster.admin('POST', '/$revoke', { token: good });
    expect(revoked.status).toBe(200);
    await expect.poll(() => seen.revokes.length).toBe(1);
    expect(wire.RevokeEvent.firstProblem(seen.revokes[0])).toBeUndefined();

    const res = await cluster.admin('POST', '/$check', {
      method: 'GET',
      uri: '/fhir/Patient',
      headers: { authorization: `Bearer ${await token({ exp: hour(), jti: 'other' })}` },
    });
    expect(res.status).toBe(200);
    const reply: unknown = await res.json();
    expect(wire.CheckReply.firstProblem(reply), JSON.stringify(reply)).toBeUndefined();
    expect(reply).toMatchObject({ allow: true, explain: expect.any(Array) });
  });
});
