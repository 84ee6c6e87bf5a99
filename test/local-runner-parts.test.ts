import { describe, expect, it } from 'vitest';
// The local runner is plain Node ESM (it runs before anything is installed), typed by JSDoc only.
import { createConsole, parseLine } from '../infra/local/logs.mjs';
import { natsConfigs } from '../infra/local/nats.mjs';
import { redisConfig } from '../infra/local/redis.mjs';
import { readSettings } from '../infra/local/settings.mjs';
import { redactUrl } from '../infra/local/summary.mjs';

// The local runner's pure parts: settings, generated server configs, log relay. The runner as
// a whole is tested end to end in local-runner.test.ts.

describe('local runner settings', () => {
  it('defaults to one NATS node, two workers, ports 8081/8080 when free and a generated admin password', () => {
    const { settings, problems } = readSettings({});
    expect(problems).toEqual([]);
    expect(settings).toMatchObject({
      natsCluster: 1,
      workers: 2,
      configPort: { port: 8081, explicit: false },
      gatewayPort: { port: 8080, explicit: false },
      host: '127.0.0.1',
      adminUser: 'admin',
      adminPasswordGenerated: true,
      kvReplicas: 1,
      logFormat: 'pretty',
      logLevel: 'info',
    });
    expect(settings.adminPassword).toMatch(/^[A-Za-z0-9_-]{24}$/);
    expect(settings.natsAuth).toEqual({
      user: 'authz',
      password: expect.stringMatching(/^[A-Za-z0-9_-]{24}$/),
    });
    expect(readSettings({}).settings.adminPassword).not.toBe(settings.adminPassword);
  });

  it('replicates the config bucket on every node of a local cluster', () => {
    expect(readSettings({ NATS_CLUSTER: '3' }).settings.kvReplicas).toBe(3);
    expect(readSettings({ NATS_CLUSTER: '3', AUTHZ_KV_REPLICAS: '1' }).settings.kvReplicas).toBe(1);
  });

  it('uses the NATS token or user the environment gives for its own server', () => {
    expect(readSettings({ NATS_TOKEN: 't0k3n' }).settings.natsAuth).toEqual({ token: 't0k3n' });
    expect(readSettings({ NATS_USER: 'u', NATS_PASSWORD: 'p' }).settings.natsAuth).toEqual({
      user: 'u',
      password: 'p',
    });
  });

  it.each([
    [{ WORKERS: '-1' }, 'WORKERS="-1" must be an integer from 0 to 64'],
    [{ WORKERS: '65' }, 'WORKERS="65" must be an integer from 0 to 64'],
    [{ CONFIG_PORT: '70000' }, 'CONFIG_PORT="70000" must be an integer from 0 to 65535'],
    [{ NATS_CLUSTER: '2' }, 'NATS_CLUSTER=2 must be odd (1, 3 or 5) to keep a quorum'],
    [{ NATS_CLUSTER: '7' }, 'NATS_CLUSTER="7" must be an integer from 1 to 5'],
    [
      { NATS_CLUSTER: '3', NATS_URL: 'nats://x:4222' },
      'NATS_CLUSTER starts the runner’s own NATS cluster; it cannot be combined with NATS_URL',
    ],
    [
      { NATS_TLS_CA: '/ca.pem' },
      'NATS_TLS_CA need NATS_URL: the runner’s own NATS runs on loopback without TLS',
    ],
    [{ NATS_USER: 'u' }, 'NATS_USER needs NATS_PASSWORD'],
    [
      { NATS_TOKEN: 't', NATS_USER: 'u', NATS_PASSWORD: 'p' },
      'set NATS_TOKEN or NATS_USER/NATS_PASSWORD, not both',
    ],
    [{ AUTHZ_KV_REPLICAS: '3' }, 'AUTHZ_KV_REPLICAS=3 exceeds the 1 NATS node(s) the runner starts'],
    [{ LOG_FORMAT: 'xml' }, 'LOG_FORMAT="xml" must be pretty or json'],
    [{ LOG_LEVEL: 'loud' }, 'LOG_LEVEL="loud" must be one of trace, debug, info, warn, error, fatal, silent'],
    [{ UPSTREAM_URL: 'ftp://x' }, 'UPSTREAM_URL="ftp://x" must be an http(s) URL'],
    [{ CONFIG_PORT: '9000', GATEWAY_PORT: '9000' }, 'CONFIG_PORT and GATEWAY_PORT are equal'],
  ])('refuses %j: %s', (env, problem) => {
    expect(readSettings(env).problems).toEqual([problem]);
  });
});

describe('generated server configs', () => {
  const auth = { user: 'authz', password: 'client-pw' };
  const routeAuth = { user: 'route', password: 'route-pw' };

  it('routes every node of a cluster to every node, with route credentials and its own store', () => {
    const ports = [
      { client: 1001, http: 2001, cluster: 3001 },
      { client: 1002, http: 2002, cluster: 3002 },
      { client: 1003, http: 2003, cluster: 3003 },
    ];
    const configs = natsConfigs({ ports, storeDir: (i: number) => `/state/nats-${i + 1}`, auth, routeAuth });
    expect(configs.map((c: { name: string }) => c.name)).toEqual(['nats-1', 'nats-2', 'nats-3']);
    const routes =
      'routes: ["nats-route://route:route-pw@127.0.0.1:3001", "nats-route://route:route-pw@127.0.0.1:3002", "nats-route://route:route-pw@127.0.0.1:3003"]';
    configs.forEach(({ config }: { config: string }, i: number) => {
      expect(config).toContain(`server_name: "authz-local-nats-${i + 1}"`);
      expect(config).toContain(`listen: "127.0.0.1:${1001 + i}"`);
      expect(config).toContain(`http: "127.0.0.1:${2001 + i}"`);
      expect(config).toContain(`store_dir: "/state/nats-${i + 1}"`);
      expect(config).toContain('  user: "authz"\n  password: "client-pw"');
      expect(config).toContain('authorization { user: "route", password: "route-pw" }');
      expect(config).toContain(routes);
    });
  });

  it('gives a single node no cluster block, and token auth when asked', () => {
    const [single] = natsConfigs({
      ports: [{ client: 1001, http: 2001 }],
      storeDir: () => '/state/nats',
      auth: { token: 's3cret' },
      routeAuth,
    });
    expect(single?.name).toBe('nats');
    expect(single?.config).not.toContain('cluster {');
    expect(single?.config).toContain('token: "s3cret"');
  });

  it('keeps Redis a password-protected, unpersisted, bounded cache on loopback', () => {
    const conf = redisConfig({ port: 7000, password: 'pw', dir: '/state/redis' });
    for (const line of [
      'bind 127.0.0.1',
      'port 7000',
      'save ""',
      'appendonly no',
      'requirepass "pw"',
      'maxmemory 256mb',
    ]) {
      expect(conf.split('\n')).toContain(line);
    }
  });
});

describe('log relay', () => {
  it.each([
    ['[123] 2026/11/24 14:19:25.853329 [WRN] Healthcheck failed', 40, 'Healthcheck failed'],
    ['[123] 2026/11/24 14:19:25.853329 [ERR] route error', 50, 'route error'],
    ['12003:M 24 Nov 2026 14:24:16.684 * Ready to accept connections', 30, 'Ready to accept connections'],
    ['{"level":50,"msg":"boom","pid":1}', 50, 'boom'],
    ['not json {', 30, 'not json {'],
  ])('reads the level and message of %s', (text, level, msg) => {
    expect(parseLine(text)).toMatchObject({ level, msg });
  });

  it('prints service JSON untouched in json mode and wraps server lines', () => {
    const lines: string[] = [];
    const out = createConsole({ format: 'json', write: (s: string) => lines.push(s) });
    const raw = '{"level":30,"msg":"ready","port":1}';
    out.child('config', parseLine(raw), raw);
    out.child('nats', parseLine('[1] 2026/11/24 14:19:25.853329 [INF] Server is ready'), '');
    expect(lines[0]).toBe(`${raw}\n`);
    expect(JSON.parse(lines[1]!)).toMatchObject({ level: 30, service: 'nats', msg: 'Server is ready' });
  });

  it('prints time, process, level, message and fields in pretty mode, dropping pino’s fixed fields', () => {
    const lines: string[] = [];
    const out = createConsole({ format: 'pretty', write: (s: string) => lines.push(s) });
    const raw =
      '{"level":40,"time":"t","pid":7,"hostname":"h","service":"authz-worker","msg":"slow","ms":12,"why":"a b"}';
    out.child('worker-1', parseLine(raw), raw);
    expect(lines[0]).toMatch(/^\d\d:\d\d:\d\d\.\d{3} worker-1 WARN {2}slow ms=12 why="a b"\n$/);
  });

  it('masks passwords in URLs it did not generate', () => {
    expect(redactUrl('redis://:hunter2@redis:6379')).toBe('redis://:***@redis:6379');
    expect(redactUrl('nats://user:pw@nats:4222')).toBe('nats://user:***@nats:4222');
    expect(redactUrl('nats://nats:4222')).toBe('nats://nats:4222');
  });
});
