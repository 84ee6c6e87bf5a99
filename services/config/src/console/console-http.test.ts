import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN, basic, type ConfigFixture, startConfigFixture } from '../testing/fixture.js';

const dist = mkdtempSync(join(tmpdir(), 'console-dist-'));
mkdirSync(join(dist, 'assets'));
writeFileSync(
  join(dist, 'index.html'),
  '<!doctype html><script type="module" src="/console/assets/app.js"></script>',
);
writeFileSync(join(dist, 'assets', 'app.js'), 'console.log(1)');

let config: ConfigFixture;
beforeAll(async () => {
  config = await startConfigFixture({
    console: { dir: dist, throttle: { failureDelayMs: 150, maxFailures: 4, windowMs: 60_000 } },
  });
});
afterAll(async () => {
  await config?.close();
  rmSync(dist, { recursive: true, force: true });
});

/** A request to the console as a browser page would make it (no Basic credentials). */
function browser(path: string, init: RequestInit = {}) {
  return config.request(path, { ...init, authorization: null });
}

const WRITE = { 'x-authz-console': '1', 'content-type': 'application/json' };

async function signIn(
  credentials: unknown = ADMIN,
  headers: Record<string, string> = WRITE,
): Promise<Response> {
  return browser('/console/api/session', { method: 'POST', headers, body: JSON.stringify(credentials) });
}

async function sessionCookie(): Promise<string> {
  const res = await signIn();
  expect(res.status).toBe(200);
  return (res.headers.get('set-cookie') ?? '').split(';')[0] as string;
}

async function outcome(res: Response) {
  return (await res.json()) as { resourceType: string; issue: Array<{ code: string; diagnostics: string }> };
}

describe('console sign-in', () => {
  it('sets an HttpOnly, SameSite=Strict session cookie holding a random id, never the credentials', async () => {
    const res = await signIn();
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ user: 'admin' });
    const cookie = res.headers.get('set-cookie') ?? '';
    expect(cookie).toMatch(
      /^authz_console=[A-Za-z0-9_-]{43}; Path=\/; HttpOnly; SameSite=Strict; Max-Age=\d+$/,
    );
    expect(cookie).not.toContain(ADMIN.password);
    expect(res.headers.get('cache-control')).toBe('no-store');
  });

  it('marks the cookie Secure behind an https proxy', async () => {
    const res = await signIn(ADMIN, { ...WRITE, 'x-forwarded-proto': 'https' });
    expect(res.headers.get('set-cookie')).toMatch(/; Secure$/);
  });

  it.each([
    ['a wrong password', { user: 'admin', password: 'nope' }],
    ['a wrong user', { user: 'root', password: ADMIN.password }],
  ])(
    'refuses %s with 401 after a delay, without a cookie or a Basic challenge',
    async (_name, credentials) => {
      const started = performance.now();
      const res = await signIn(credentials);
      expect(res.status).toBe(401);
      expect(performance.now() - started).toBeGreaterThanOrEqual(140);
      expect(res.headers.get('set-cookie')).toBeNull();
      expect(res.headers.get('www-authenticate')).toBeNull();
      expect((await outcome(res)).issue[0]).toMatchObject({
        code: 'login',
        diagnostics: 'wrong user name or password',
      });
    },
  );

  it.each([
    ['without the X-Authz-Console header', { 'content-type': 'application/json' }, 403],
    ['from another origin', { ...WRITE, origin: 'https://evil.example' }, 403],
    ['from a cross-site fetch', { ...WRITE, 'sec-fetch-site': 'cross-site' }, 403],
  ])('refuses a sign-in %s', async (_name, headers, status) => {
    const res = await signIn(ADMIN, headers);
    expect(res.status).toBe(status);
    expect(res.headers.get('set-cookie')).toBeNull();
  });

  it('accepts a sign-in from its own origin', async () => {
    const res = await signIn(ADMIN, { ...WRITE, origin: config.url, 'sec-fetch-site': 'same-origin' });
    expect(res.status).toBe(200);
  });

  it('answers 400 to a body without user and password', async () => {
    const res = await signIn({ user: 'admin' });
    expect(res.status).toBe(400);
  });
});

describe('console API without a session', () => {
  it.each([
    ['GET', '/console/api/session'],
    ['DELETE', '/console/api/session'],
    ['GET', '/console/api/AccessPolicy'],
    ['GET', '/console/api/AccessPolicy/p1'],
    ['PUT', '/console/api/AccessPolicy/p1'],
    ['POST', '/console/api/AccessPolicy'],
    ['DELETE', '/console/api/AccessPolicy/p1'],
    ['POST', '/console/api/$check'],
    ['POST', '/console/api/$test-policy'],
    ['POST', '/console/api/$revoke'],
    ['GET', '/console/api/$decisions'],
    ['GET', '/console/api/healthz'],
    ['GET', '/console/api/metrics'],
    ['GET', '/console/api/no-such-thing'],
  ])('%s %s is 401', async (method, path) => {
    const body = method === 'GET' || method === 'DELETE' ? undefined : '{"engine":"allow"}';
    for (const headers of [
      WRITE,
      { ...WRITE, cookie: `authz_console=${'A'.repeat(43)}` },
      // Basic credentials do not open the console API: it takes the session only.
      { ...WRITE, authorization: basic() },
    ]) {
      const res = await config.request(path, { method, headers, body, authorization: null });
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toBeNull();
      expect((await outcome(res)).issue[0]?.code).toBe('login');
    }
  });
});

describe('console API with a session', () => {
  it('reaches the admin routes with the cookie and refuses writes without the CSRF header', async () => {
    const cookie = await sessionCookie();
    const policy = 'engine: matcho\nmatcho:\n  uri: /x\n';
    const yaml = { cookie, 'content-type': 'text/yaml' };

    const noHeader = await browser('/console/api/AccessPolicy/c1', {
      method: 'PUT',
      headers: yaml,
      body: policy,
    });
    expect(noHeader.status).toBe(403);
    expect(await config.stored('AccessPolicy', 'c1')).toBeUndefined();

    const created = await browser('/console/api/AccessPolicy/c1', {
      method: 'PUT',
      headers: { ...yaml, 'x-authz-console': '1' },
      body: policy,
    });
    expect(created.status).toBe(201);
    expect(created.headers.get('content-security-policy')).toContain("default-src 'self'");

    const list = await browser('/console/api/AccessPolicy', { headers: { cookie } });
    expect(list.status).toBe(200);
    expect(await list.json()).toMatchObject({ total: 1, entry: [{ resource: { id: 'c1' } }] });

    const invalid = await browser('/console/api/AccessPolicy/c1', {
      method: 'PUT',
      headers: { ...yaml, 'x-authz-console': '1', 'if-match': created.headers.get('etag') ?? '' },
      body: 'engine: matcho\nmatcho:\n  uri: {$bogus: 1}\n',
    });
    expect(invalid.status).toBe(422);
    expect((await outcome(invalid)).issue[0]).toMatchObject({
      expression: ['AccessPolicy.matcho.uri.$bogus'],
    });

    const removed = await browser('/console/api/AccessPolicy/c1', {
      method: 'DELETE',
      headers: { cookie, 'x-authz-console': '1' },
    });
    expect(removed.status).toBe(200);
  });

  it('ends the session on sign-out', async () => {
    const cookie = await sessionCookie();
    expect((await browser('/console/api/session', { headers: { cookie } })).status).toBe(200);
    const out = await browser('/console/api/session', {
      method: 'DELETE',
      headers: { cookie, 'x-authz-console': '1' },
    });
    expect(out.status).toBe(200);
    expect(out.headers.get('set-cookie')).toMatch(
      /^authz_console=; Path=\/; HttpOnly; SameSite=Strict; Max-Age=0$/,
    );
    expect((await browser('/console/api/AccessPolicy', { headers: { cookie } })).status).toBe(401);
  });

  it('cuts off an open decisions stream when its session signs out', async () => {
    const cookie = await sessionCookie();
    const stream = await browser('/console/api/$decisions', { headers: { cookie } });
    expect(stream.status).toBe(200);
    expect(stream.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    const reader = stream.body?.getReader();
    expect(new TextDecoder().decode((await reader?.read())?.value)).toContain(': stream of authz decisions');
    const out = await browser('/console/api/session', {
      method: 'DELETE',
      headers: { cookie, 'x-authz-console': '1' },
    });
    expect(out.status).toBe(200);
    await expect(
      (async () => {
        for (;;) if ((await reader?.read())?.done) return 'ended';
      })(),
    ).rejects.toThrow();
  });

  it('keeps the existing Basic-authenticated API as it was', async () => {
    expect((await config.request('/AccessPolicy')).status).toBe(200);
    expect((await config.request('/AccessPolicy', { authorization: null })).status).toBe(401);
  });
});

describe('console pages', () => {
  it('serves index.html with a strict CSP and the other security headers', async () => {
    const res = await browser('/console/');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
    const csp = res.headers.get('content-security-policy') ?? '';
    for (const directive of [
      "default-src 'self'",
      "script-src 'self'",
      "connect-src 'self'",
      "frame-ancestors 'none'",
      "object-src 'none'",
    ]) {
      expect(csp).toContain(directive);
    }
    expect(csp).not.toContain('unsafe-inline');
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('referrer-policy')).toBe('no-referrer');
    expect(res.headers.get('cache-control')).toBe('no-cache');
  });

  it('redirects /console to /console/', async () => {
    const res = await browser('/console', { redirect: 'manual' });
    expect(res.status).toBe(308);
    expect(res.headers.get('location')).toBe('/console/');
  });

  it('serves hashed assets as immutable and answers a matching If-None-Match with 304', async () => {
    const res = await browser('/console/assets/app.js');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(res.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    const again = await browser('/console/assets/app.js', {
      headers: { 'if-none-match': res.headers.get('etag') ?? '' },
    });
    expect(again.status).toBe(304);
  });

  it.each([
    ['an unknown file', 'GET', '/console/nope.js', 404],
    ['a path climbing out', 'GET', '/console/..%2fpackage.json', 404],
    ['a write to a page', 'POST', '/console/', 405],
  ])('answers %s with %i', async (_name, method, path, status) => {
    expect((await browser(path, { method })).status).toBe(status);
  });

  it('answers 503 naming the build command while the console is not built', async () => {
    const unbuilt = await startConfigFixture({ nats: config.nats, console: { dir: join(dist, 'missing') } });
    try {
      const res = await unbuilt.request('/console/', { authorization: null });
      expect(res.status).toBe(503);
      expect((await outcome(res)).issue[0]?.diagnostics).toContain(
        'the console is not built: run `pnpm exec turbo run build`',
      );
    } finally {
      await unbuilt.close();
    }
  });
});

describe('console sign-in throttling', () => {
  it('answers 429 with Retry-After once an address keeps failing, even for the right password', async () => {
    for (let i = 0; i < 6; i++) {
      const res = await signIn({ user: 'admin', password: `guess-${i}` });
      if (res.status === 429) break;
      expect(res.status).toBe(401);
    }
    const blocked = await signIn();
    expect(blocked.status).toBe(429);
    expect(Number(blocked.headers.get('retry-after'))).toBeGreaterThan(0);
    expect((await outcome(blocked)).issue[0]?.code).toBe('throttled');
  });

  it('lets the right credentials in from a fresh address, however many other addresses failed', async () => {
    /** A sign-in from a chosen loopback address (all of 127.0.0.0/8 is loopback on Linux). */
    const signInFrom = (localAddress: string, password: string) =>
      new Promise<number>((resolve, reject) => {
        const body = JSON.stringify({ user: ADMIN.user, password });
        const req = httpRequest(
          `${config.url}/console/api/session`,
          { method: 'POST', localAddress, headers: { ...WRITE, 'content-length': Buffer.byteLength(body) } },
          (res) => {
            res.resume();
            res.on('end', () => resolve(res.statusCode ?? 0));
          },
        );
        req.on('error', reject);
        req.end(body);
      });
    // 12 addresses × 5 refusals: past what the old global limit (50 from all) allowed.
    const guesses = Array.from({ length: 60 }, (_, i) => signInFrom(`127.0.1.${(i % 12) + 1}`, `guess-${i}`));
    const statuses = await Promise.all(guesses);
    expect(statuses.every((s) => s === 401 || s === 429)).toBe(true);
    expect(await signInFrom('127.0.1.100', ADMIN.password)).toBe(200);
  });

  it('counts concurrent guesses from one address: only maxFailures of them are answered 401', async () => {
    // Every request's headers reach the service before any body does, so all 40 are in flight at
    // once when their passwords are compared: each must still see the failures before it.
    const requests = Array.from({ length: 40 }, (_, i) => {
      const body = JSON.stringify({ user: ADMIN.user, password: `race-${i}` });
      const req = httpRequest(`${config.url}/console/api/session`, {
        method: 'POST',
        localAddress: '127.0.2.1',
        headers: { ...WRITE, 'content-length': Buffer.byteLength(body) },
      });
      const status = new Promise<number>((resolve, reject) => {
        req.on('response', (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        });
        req.on('error', reject);
      });
      req.flushHeaders();
      return { req, body, status };
    });
    await new Promise((r) => setTimeout(r, 300));
    for (const { req, body } of requests) req.end(body);
    const statuses = await Promise.all(requests.map((r) => r.status));
    expect(statuses.filter((s) => s === 401)).toHaveLength(4);
    expect(statuses.filter((s) => s === 429)).toHaveLength(36);
  });
});
