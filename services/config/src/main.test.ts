import { execFileSync, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import {
  freePort,
  SEED_INTROSPECTOR_SECRET,
  type ServiceProcess,
  startNats,
  startService,
  type TestServer,
} from '@authz/test-support';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// These tests run the built service (`services/config/dist/main.js`): build first.
const MAIN = fileURLToPath(new URL('../dist/main.js', import.meta.url));
const PASSWORD = 'built-process-password';

let nats: TestServer;
beforeAll(async () => {
  nats = await startNats();
});
afterAll(async () => {
  await nats?.dispose();
});

describe('the built config service', () => {
  let service: ServiceProcess | undefined;
  afterAll(async () => {
    await service?.stop();
  });

  it('starts, logs ready, serves the API, fails closed while NATS is down, stops on SIGTERM', async () => {
    const port = await freePort();
    service = await startService('config', {
      NATS_URL: nats.url,
      CONFIG_PORT: String(port),
      CONFIG_ADMIN_PASSWORD: PASSWORD,
      // A write retries while JetStream has no leader; 1.5 s keeps the 503 below quick to reach.
      CONFIG_STORE_RETRY_MS: '1500',
    });
    const ready = await service.waitForLog((l) => l.msg === 'ready');
    expect(ready).toMatchObject({ port, host: '127.0.0.1', url: `http://127.0.0.1:${port}/` });
    const args = execFileSync('ps', ['-o', 'args=', '-p', String(service.child.pid)])
      .toString()
      .trim();
    expect(args).toBe('authz-config');

    const auth = `Basic ${Buffer.from(`admin:${PASSWORD}`).toString('base64')}`;
    const put = await fetch(`http://127.0.0.1:${port}/TokenIntrospector/external-auth-server`, {
      method: 'PUT',
      body: SEED_INTROSPECTOR_SECRET,
      headers: { authorization: auth, 'content-type': 'text/yaml' },
    });
    expect(put.status).toBe(201);
    expect((await fetch(`http://127.0.0.1:${port}/readyz`)).status).toBe(200);
    expect((await fetch(`http://127.0.0.1:${port}/User`)).status).toBe(401);

    // NATS down: not ready, and writes fail closed with 503 instead of hanging or pretending.
    await nats.stop();
    await expect
      .poll(async () => (await fetch(`http://127.0.0.1:${port}/readyz`)).status, { timeout: 5000 })
      .toBe(503);
    const during = await fetch(`http://127.0.0.1:${port}/User/u`, {
      method: 'PUT',
      body: '{}',
      headers: { authorization: auth, 'content-type': 'application/json' },
    });
    expect(during.status).toBe(503);
    expect(during.headers.get('retry-after')).toBe('2');
    const outcome = (await during.json()) as { issue: Array<{ code: string; diagnostics: string }> };
    expect(outcome.issue[0]?.code).toBe('transient');
    expect(outcome.issue[0]?.diagnostics).toMatch(
      /^the configuration store \(NATS JetStream\) did not confirm the write within \d+(\.\d)? s: the config bucket has no JetStream leader/,
    );
    await nats.start();
    await expect
      .poll(async () => (await fetch(`http://127.0.0.1:${port}/readyz`)).status, { timeout: 10_000 })
      .toBe(200);
    const after = await fetch(`http://127.0.0.1:${port}/TokenIntrospector/external-auth-server`, {
      headers: { authorization: auth },
    });
    expect(after.status).toBe(200);

    // Secrets never reach the log, even though the body carried one.
    expect(JSON.stringify(service.logs)).not.toContain('very-secret');
    expect(JSON.stringify(service.logs)).not.toContain(PASSWORD);
    expect(await service.stop('SIGTERM')).toBe(0);
  });

  it('stores a write that arrives while NATS is down once NATS is back within CONFIG_STORE_RETRY_MS', async () => {
    const port = await freePort();
    const writer = await startService('config', {
      NATS_URL: nats.url,
      CONFIG_PORT: String(port),
      CONFIG_ADMIN_PASSWORD: PASSWORD,
      CONFIG_STORE_RETRY_MS: '15000',
    });
    try {
      const auth = `Basic ${Buffer.from(`admin:${PASSWORD}`).toString('base64')}`;
      await nats.stop();
      const started = Date.now();
      const write = fetch(`http://127.0.0.1:${port}/User/written-while-down`, {
        method: 'PUT',
        body: '{}',
        headers: { authorization: auth, 'content-type': 'application/json' },
      });
      await new Promise((r) => setTimeout(r, 1000));
      await nats.start();
      const res = await write;
      expect(res.status).toBe(201);
      expect(Date.now() - started).toBeGreaterThanOrEqual(1000);
      const read = await fetch(`http://127.0.0.1:${port}/User/written-while-down`, {
        headers: { authorization: auth },
      });
      expect(read.status).toBe(200);
    } finally {
      await writer.stop();
    }
  });

  it('refuses to start without CONFIG_ADMIN_PASSWORD, naming the variable', async () => {
    const child = spawn(process.execPath, [MAIN], {
      env: { PATH: process.env.PATH, NATS_URL: nats.url, CONFIG_PORT: String(await freePort()) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    expect(code).toBe(2);
    expect(stderr).toContain('CONFIG_ADMIN_PASSWORD is required');
  });
});
