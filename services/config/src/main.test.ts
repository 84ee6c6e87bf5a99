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
    expect(((await during.json()) as { issue: Array<{ code: string }> }).issue[0]?.code).toBe('transient');
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
