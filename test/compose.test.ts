import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '@authz/test-support';
import { afterAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';

// infra/compose.yaml cannot be run here (no Docker engine), so this checks that it only refers
// to things that exist: files, pinned images, env vars the code reads, ports the services
// listen on, and NATS configs that really form a 3-node JetStream cluster (run with nats-server).

const root = fileURLToPath(new URL('../', import.meta.url));
const infra = join(root, 'infra');
const read = (path: string) => readFileSync(join(root, path), 'utf8');

interface Service {
  image?: string;
  build?: { context: string; dockerfile: string; args?: Record<string, string> };
  command?: string[];
  environment?: Record<string, string>;
  volumes?: string[];
  ports?: string[];
  healthcheck?: { test: string[] };
  depends_on?: Record<string, { condition: string }>;
  deploy?: { replicas?: number };
}
const compose = parse(read('infra/compose.yaml'), { merge: true }) as { services: Record<string, Service> };
const services = compose.services;
const built = Object.entries(services).filter(([, s]) => s.build);
const pulled = Object.entries(services).filter(([, s]) => !s.build);

/** Compose variable interpolation: `${VAR}`, `${VAR:-default}`, `${VAR:?error}`, `$$`. */
function interpolate(value: string, vars: Record<string, string>): string {
  return value
    .replace(/\$\{(\w+)(?::([-?])([^}]*))?\}/g, (_, name: string, op?: string, arg?: string) => {
      if (vars[name] !== undefined && vars[name] !== '') return vars[name]!;
      if (op === '-') return arg ?? '';
      throw new Error(`compose would refuse to start: ${name} unset (${arg})`);
    })
    .replace(/\$\$/g, '$');
}

/** Bind mounts of a service as `{source (absolute), target}`. */
function bindMounts(service: Service) {
  return (service.volumes ?? [])
    .filter((v) => v.startsWith('./') || v.startsWith('../'))
    .map((v) => {
      const [source, target] = v.split(':');
      return { source: resolve(infra, source!), target: target! };
    });
}

/** Every `.ts` source file (tests excluded) under `dir`. */
function sources(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts') && !e.name.endsWith('.test.ts'))
    .map((e) =>
      readFileSync(
        join(
          (e as { parentPath?: string; path?: string }).parentPath ?? (e as { path: string }).path,
          e.name,
        ),
        'utf8',
      ),
    );
}

/** Healthcheck URL of a service: `{port, path}`. */
function healthUrl(service: Service) {
  const text = (service.healthcheck?.test ?? []).join(' ');
  const match = /http:\/\/127\.0\.0\.1:(\d+)(\/[^\s'"]*)/.exec(text);
  return match ? { port: Number(match[1]), path: match[2]! } : undefined;
}

const natsServices = ['nats-1', 'nats-2', 'nats-3'];
const natsConfig = (name: string) => {
  const mount = bindMounts(services[name]!).find((m) => m.target === '/etc/nats/nats.conf');
  return readFileSync(mount!.source, 'utf8');
};
/** The value of a top-level `key: value` line, or of one inside `block { … }`. */
function confValue(conf: string, key: string, block?: string): string | undefined {
  const scope = block ? (new RegExp(`^${block}\\s*\\{([\\s\\S]*?)^\\}`, 'm').exec(conf)?.[1] ?? '') : conf;
  const line = new RegExp(`^\\s*${key}:\\s*(.+?)\\s*$`, 'm').exec(
    block ? scope : conf.replace(/^\w+\s*\{[\s\S]*?^\}/gm, ''),
  );
  return line?.[1];
}

describe('infra/compose.yaml', () => {
  it('runs the whole cluster: 3 NATS nodes, Redis, config, workers, gateways, nginx and a demo upstream', () => {
    expect(Object.keys(services).sort()).toEqual(
      ['config', 'gateway', 'nats-1', 'nats-2', 'nats-3', 'nginx', 'redis', 'upstream', 'worker'].sort(),
    );
    expect(services.worker!.deploy?.replicas).toBe(3);
    expect(services.config!.environment?.AUTHZ_KV_REPLICAS).toBe('3');
    expect(services.config!.environment?.CONFIG_ADMIN_PASSWORD).toMatch(/^\$\{CONFIG_ADMIN_PASSWORD:\?.+\}$/);
    // --scale needs services without fixed container names or host ports.
    for (const name of ['worker', 'gateway']) {
      expect(services[name]).not.toHaveProperty('container_name');
      expect(services[name]!.ports ?? []).toEqual([]);
    }
  });

  it('references only files that exist', () => {
    const missing: string[] = [];
    for (const [name, service] of Object.entries(services)) {
      if (service.build) {
        const context = resolve(infra, service.build.context);
        if (!existsSync(join(context, service.build.dockerfile)))
          missing.push(`${name}: ${service.build.dockerfile}`);
      }
      for (const { source } of bindMounts(service))
        if (!existsSync(source)) missing.push(`${name}: ${source}`);
    }
    expect(missing).toEqual([]);
    // nginx's includes are files mounted into its container.
    const nginx = bindMounts(services.nginx!);
    const mainConf = nginx.find((m) => m.target === '/etc/nginx/nginx.conf');
    const includes = [...readFileSync(mainConf!.source, 'utf8').matchAll(/^\s*include\s+([^;\s]+);/gm)].map(
      (m) => m[1],
    );
    expect(includes.length).toBeGreaterThan(0);
    for (const path of includes) expect(nginx.map((m) => m.target)).toContain(path);
  });

  it('pins every pulled image to a version tag and tags every built one', () => {
    for (const [name, service] of pulled) {
      expect(service.image, name).toMatch(/^[\w./-]+:v?\d+\.\d+\.\d+(-[\w.]+)?$/);
    }
    for (const [name, service] of built) {
      expect(service.image, name).toMatch(new RegExp(`^authz-${service.build!.args!.SERVICE}:\\S+$`));
      expect(service.build!.args?.SERVICE).toBe(name);
    }
  });

  it('gives each built service only environment variables its code reads', () => {
    const shared = sources(join(root, 'packages')).join('\n');
    for (const [name, service] of built) {
      const code = `${sources(join(root, 'services', name, 'src')).join('\n')}\n${shared}`;
      // NODE_OPTIONS is read by node itself (the worker's heap cap).
      const unread = Object.keys(service.environment ?? {}).filter(
        (v) => v !== 'NODE_OPTIONS' && !code.includes(`'${v}'`),
      );
      expect(unread, `${name} sets variables no code reads`).toEqual([]);
    }
  });

  it('gives each pulled image only environment variables its configuration or tools use', () => {
    // Read by a tool inside the image rather than written into a file or command.
    const toolVars: Record<string, string> = { REDISCLI_AUTH: 'redis-cli' };
    for (const [name, service] of pulled) {
      const used = [
        ...bindMounts(service).map((m) => readFileSync(m.source, 'utf8')),
        JSON.stringify(service.command ?? []),
        JSON.stringify(service.healthcheck ?? {}),
      ].join('\n');
      for (const key of Object.keys(service.environment ?? {})) {
        if (toolVars[key]) continue;
        expect(used, `${name}: ${key} is set but nothing reads it`).toMatch(new RegExp(`\\$\\$?${key}\\b`));
      }
    }
  });

  it('health-checks every service on the port it listens on, at a path its code serves', () => {
    const code = (svc: string) => sources(join(root, 'services', svc, 'src')).join('\n');
    const listens = (file: string) => Number(/^\s*listen\s+(\d+);/m.exec(read(file))?.[1]);
    const expected: Record<string, { port: number; path: RegExp }> = {
      config: { port: Number(services.config!.environment!.CONFIG_PORT), path: /^\/(readyz|healthz)$/ },
      worker: { port: Number(services.worker!.environment!.WORKER_HTTP_PORT), path: /^\/(readyz|healthz)$/ },
      gateway: {
        port: Number(services.gateway!.environment!.GATEWAY_PORT),
        path: /^\/_authz\/(readyz|healthz)$/,
      },
      nginx: { port: listens('infra/nginx/nginx.conf'), path: /^\/_nginx\/healthz$/ },
      upstream: { port: listens('infra/nginx/upstream.conf'), path: /^\/healthz$/ },
    };
    for (const name of natsServices) {
      expected[name] = {
        port: Number(confValue(natsConfig(name), 'http')?.split(':').pop()),
        path: /^\/healthz$/,
      };
    }
    for (const [name, want] of Object.entries(expected)) {
      const got = healthUrl(services[name]!);
      expect(got?.port, name).toBe(want.port);
      expect(got?.path, name).toMatch(want.path);
      if (services[name]!.build) expect(code(name)).toContain(`'${got!.path}'`);
    }
    expect(services.redis!.healthcheck?.test.join(' ')).toContain('redis-cli -p 6379 ping');
  });

  it('wires services to each other on the ports they listen on', () => {
    const env = services.worker!.environment!;
    const natsPorts = natsServices.map((n) => `${n}:${confValue(natsConfig(n), 'listen')?.split(':').pop()}`);
    for (const [name, service] of built) {
      expect(service.environment?.NATS_URL, name).toBe(natsPorts.map((hp) => `nats://${hp}`).join(','));
      for (const dep of natsServices)
        expect(service.depends_on?.[dep]?.condition, `${name} → ${dep}`).toBe('service_healthy');
    }
    expect(env.REDIS_URL).toMatch(/^redis:\/\/:\$\{REDIS_PASSWORD\}@redis:6379$/);
    expect(services.config!.environment!.REDIS_URL).toBe(env.REDIS_URL);
    expect(services.redis!.command).toContain('--requirepass');
    // nginx reaches the gateways and the demo application where they listen.
    const nginxConf = read('infra/nginx/nginx.conf');
    expect(nginxConf).toMatch(
      new RegExp(`server gateway:${services.gateway!.environment!.GATEWAY_PORT} resolve;`),
    );
    expect(nginxConf).toMatch(/server upstream:8000 resolve;/);
    expect(services.gateway!.environment!.UPSTREAM_URL).toBe('http://upstream:8000');
    // Published ports map to the ports the containers listen on.
    expect(services.config!.ports).toEqual([`127.0.0.1:8081:${services.config!.environment!.CONFIG_PORT}`]);
    // biome-ignore lint/suspicious/noTemplateCurlyInString: a compose interpolation, not a template
    expect(services.nginx!.ports).toEqual(['${AUTHZ_HTTP_PORT:-8080}:8080']);
  });

  it('asks for exactly the secrets infra/README.md tells how to generate', () => {
    const required = new Set([...read('infra/compose.yaml').matchAll(/\$\{(\w+):\?/g)].map((m) => m[1]));
    const loop = /for v in ([A-Z_ ]+); do/.exec(read('infra/README.md'));
    expect([...required].sort()).toEqual((loop?.[1] ?? '').trim().split(/\s+/).sort());
  });
});

describe('infra/Dockerfile', () => {
  const dockerfile = read('infra/Dockerfile');
  it('builds on Node 24 LTS with pnpm from npm, a frozen lockfile, turbo and pnpm deploy', () => {
    expect(dockerfile).toMatch(/^ARG NODE_IMAGE=node:24-bookworm-slim$/m);
    expect(dockerfile.match(/^FROM \$\{NODE_IMAGE\} AS \w+$/gm)).toHaveLength(2);
    expect(dockerfile).toContain('npm install -g pnpm@10');
    expect(dockerfile).not.toMatch(/corepack (enable|prepare)/);
    expect(dockerfile).toContain('pnpm install --frozen-lockfile');
    expect(dockerfile).toMatch(/pnpm turbo run build --filter=@authz\/\$\{SERVICE\}\.\.\./);
    expect(dockerfile).toMatch(/pnpm --filter @authz\/\$\{SERVICE\} --prod deploy/);
  });

  it('runs the service as a non-root user in production mode', () => {
    const runtime = dockerfile.slice(dockerfile.lastIndexOf('FROM '));
    expect(runtime).toMatch(/^USER (?!0\b|root\b)\S+$/m);
    expect(runtime).toMatch(/NODE_ENV=production/);
    expect(runtime).toMatch(/^CMD \["node", "dist\/main\.js"\]$/m);
    // Every service's build output is dist/main.js.
    for (const [name] of built) {
      const pkg = JSON.parse(read(`services/${name}/package.json`)) as { bin: Record<string, string> };
      expect(Object.values(pkg.bin)).toContain('./dist/main.js');
    }
  });

  it('keeps dependencies, builds, local state and secrets out of the build context', () => {
    const ignored = read('.dockerignore').split('\n');
    for (const entry of ['**/node_modules', '**/dist', '.git', '.local', '**/.env'])
      expect(ignored).toContain(entry);
  });
});

describe('infra/nats', () => {
  const children: ChildProcess[] = [];
  const dirs: string[] = [];
  afterAll(async () => {
    await Promise.all(
      children.map(
        (child) =>
          new Promise<void>((done) => {
            if (child.exitCode !== null) return done();
            child.once('exit', () => done());
            child.kill('SIGKILL');
          }),
      ),
    );
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  it('configures three distinct JetStream nodes routed to each other with authenticated routes', () => {
    const routeUrls = new Set<string>();
    for (const name of natsServices) {
      const conf = natsConfig(name);
      expect(confValue(conf, 'server_name')).toBe(name);
      expect(confValue(conf, 'store_dir', 'jetstream')).toBe('/data');
      expect(services[name]!.volumes).toContain(`${name}-data:/data`);
      expect(confValue(conf, 'listen', 'cluster')).toBe('0.0.0.0:6222');
      expect(conf).toMatch(/^authorization \{\s*user: \$NATS_USER\s*password: \$NATS_PASSWORD\s*\}/m);
      const routes = /routes:\s*\[([^\]]*)\]/.exec(conf)?.[1]?.trim().split(/\s+/);
      expect(routes).toEqual(['$NATS_ROUTE_1', '$NATS_ROUTE_2', '$NATS_ROUTE_3']);
      for (const route of routes!) routeUrls.add(services[name]!.environment![route.slice(1)]!);
    }
    expect([...routeUrls].sort()).toEqual(
      natsServices.map((n) => `nats-route://route:\${NATS_ROUTE_PASSWORD}@${n}:6222`),
    );
  });

  it('forms a 3-node cluster with a JetStream meta leader when run with the environment compose gives it', async () => {
    const vars = { NATS_PASSWORD: 'client-secret', NATS_ROUTE_PASSWORD: 'route-secret' };
    // Containers own 4222/6222/8222 each; on one machine every node gets its own ports.
    const ports = await Promise.all(
      natsServices.map(async () => ({
        client: await freePort(),
        route: await freePort(),
        http: await freePort(),
      })),
    );
    const hostPort = (url: string) =>
      url.replace(/@nats-(\d):6222$/, (_, n: string) => `@127.0.0.1:${ports[Number(n) - 1]!.route}`);
    natsServices.forEach((name, i) => {
      const dir = mkdtempSync(join(tmpdir(), `authz-compose-${name}-`));
      dirs.push(dir);
      const conf = natsConfig(name)
        .replace(/^listen: 0\.0\.0\.0:4222$/m, `listen: 127.0.0.1:${ports[i]!.client}`)
        .replace(/^http: 0\.0\.0\.0:8222$/m, `http: 127.0.0.1:${ports[i]!.http}`)
        .replace(/^(\s+)listen: 0\.0\.0\.0:6222$/m, `$1listen: 127.0.0.1:${ports[i]!.route}`)
        .replace(/store_dir: \/data/, `store_dir: ${JSON.stringify(dir)}`);
      writeFileSync(join(dir, 'nats.conf'), conf);
      const env = Object.fromEntries(
        Object.entries(services[name]!.environment!).map(([k, v]) => [k, hostPort(interpolate(v, vars))]),
      );
      children.push(
        spawn('nats-server', ['-c', join(dir, 'nats.conf')], {
          env: { PATH: process.env.PATH, ...env },
          stdio: 'ignore',
        }),
      );
    });
    const meta = async (port: number) => {
      try {
        const res = await fetch(`http://127.0.0.1:${port}/jsz`, { signal: AbortSignal.timeout(1000) });
        return ((await res.json()) as { meta_cluster?: { leader?: string; cluster_size?: number } })
          .meta_cluster;
      } catch {
        return undefined;
      }
    };
    // A meta leader can be elected by two nodes before the third has joined: wait until every
    // node names the same leader *and* counts three peers (a loaded box takes seconds for both).
    await expect
      .poll(async () => Promise.all(ports.map((p) => meta(p.http))), { timeout: 30_000, interval: 200 })
      .toSatisfy((metas: Array<{ leader?: string; cluster_size?: number } | undefined>) =>
        metas.every((m) => m?.leader !== undefined && m.leader === metas[0]?.leader && m.cluster_size === 3),
      );
    const routez = (await (await fetch(`http://127.0.0.1:${ports[0]!.http}/routez`)).json()) as {
      num_routes: number;
    };
    expect(routez.num_routes).toBeGreaterThanOrEqual(2);
  });
});
