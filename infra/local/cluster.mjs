// The local cluster: NATS (one node or a loopback JetStream cluster) and Redis unless external
// ones are given, then the config service, the workers and the gateway, each awaited until
// ready. Stops in dependency order: gateway, then workers and config, then NATS and Redis.
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { levelNumber } from './logs.mjs';
import { natsConfigs, waitForJetStream } from './nats.mjs';
import { choosePorts, reachableHost } from './ports.mjs';
import { redisConfig, waitForRedis } from './redis.mjs';
import { generateSecret } from './settings.mjs';
import { Slot } from './slots.mjs';
import { RUN_MARKER, recordChildren, writePrivate } from './state.mjs';

const READY_TIMEOUT_MS = 30_000;
const SERVICE_GRACE_MS = 15_000;
const INFRA_GRACE_MS = 5_000;
/** Variables the runner sets itself for its own servers; inherited values must not leak through. */
const OWN_NATS_VARS = [
  'NATS_USER',
  'NATS_PASSWORD',
  'NATS_TOKEN',
  'NATS_TLS_CA',
  'NATS_TLS_CERT',
  'NATS_TLS_KEY',
];

/** Waits for `ready` unless the process exits first. */
function untilExit(proc, ready, what) {
  return Promise.race([
    ready,
    proc.exited.then(({ code, signal, error }) => {
      const how = error ? `could not start (${error.message})` : `exited (code ${code}, signal ${signal})`;
      throw new Error(`${proc.name} ${how} before it was ${what}; last output:\n${proc.tail()}`);
    }),
  ]);
}

/**
 * The processes of one local run and their order. `start()` brings everything up, `stop()` takes
 * it down (once, in order), `kill()` is the synchronous last resort.
 */
export class LocalCluster {
  /**
   * @param {{settings: import('./settings.mjs').Settings, out: ReturnType<import('./logs.mjs').createConsole>,
   *          root: string, stateDir: string, binaries: {nats?: string, redis?: string}}} options
   */
  constructor({ settings, out, root, stateDir, binaries }) {
    this.settings = settings;
    this.out = out;
    this.root = root;
    this.stateDir = stateDir;
    this.binaries = binaries;
    /** @type {Slot[]} */
    this.slots = [];
    this.started = false;
    /** @type {Promise<number> | undefined} */
    this.stopping = undefined;
    this.abort = new AbortController();
    /** Resolves with the exit code once {@link stop} has finished. */
    this.stopped = new Promise((resolve) => {
      this.resolveStopped = resolve;
    });
    this.nats = { urls: [], monitor: [], leader: undefined, external: Boolean(settings.natsUrl) };
    this.redis = { url: settings.redisUrl, external: Boolean(settings.redisUrl) };
    this.routeAuth = { user: 'route', password: generateSecret() };
    this.redisPassword = generateSecret();
    this.hooks = {
      out,
      stopping: () => this.stopping !== undefined,
      started: () => this.started,
      fatal: (reason) => {
        out.log(50, reason);
        void this.stop(1);
      },
      changed: () => recordChildren(stateDir, this.processes()),
    };
  }

  /** Every process of the run, by name. */
  processes() {
    return this.slots.map((slot) => ({ name: slot.name, pid: slot.pid }));
  }

  /** Registers a slot (every process the run starts has one). */
  slot(options) {
    const slot = new Slot(options, this.hooks);
    this.slots.push(slot);
    return slot;
  }

  /** Starts everything; rejects when any part does not become ready. */
  async start() {
    const ports = await this.allocatePorts();
    this.workerPorts = ports.workers;
    this.gatewayGrpcPort = ports.grpc;
    await Promise.all([
      ports.nats.length > 0 && this.startNats(ports.nats),
      ports.redis !== undefined && this.startRedis(ports.redis),
    ]);
    // Config first: it creates the bucket the workers open.
    this.config = this.slot(
      this.serviceSlot('config', 'config', { CONFIG_PORT: String(ports.config) }, false),
    );
    await this.config.launch();
    this.workers = ports.workers.map((port, i) =>
      this.slot(this.serviceSlot('worker', `worker-${i + 1}`, { WORKER_HTTP_PORT: String(port) }, true)),
    );
    this.gateway = this.slot(
      this.serviceSlot(
        'gateway',
        'gateway',
        { GATEWAY_PORT: String(ports.gateway), GATEWAY_GRPC_PORT: String(ports.grpc) },
        false,
      ),
    );
    await Promise.all([...this.workers, this.gateway].map((slot) => slot.launch()));
    this.started = true;
  }

  /**
   * Every port of the run, chosen at once so they are distinct. Defaults (4222, 6379, 8081,
   * 8080) only when free; explicitly configured ports must be free; 0 is left to the service.
   */
  async allocatePorts() {
    const { settings } = this;
    const natsNodes = settings.natsUrl ? 0 : settings.natsCluster;
    const perNode = natsNodes > 1 ? 3 : 2; // client, monitoring, route (clusters only)
    const wanted = [];
    for (let i = 0; i < natsNodes; i++) {
      wanted.push(
        { name: `nats-${i + 1}`, preferred: i === 0 ? 4222 : 0 },
        { name: 'monitor', preferred: 0 },
      );
      if (perNode === 3) wanted.push({ name: 'route', preferred: 0 });
    }
    if (!settings.redisUrl) wanted.push({ name: 'redis', preferred: 6379 });
    const http = (name, { port, explicit }) =>
      port === 0 ? [] : [{ name, preferred: port, required: explicit, host: settings.host }];
    wanted.push(...http('CONFIG_PORT', settings.configPort), ...http('GATEWAY_PORT', settings.gatewayPort));
    // Envoy ext_authz (gRPC): 9191 when free, another free port otherwise; 0 keeps it off.
    wanted.push(...http('GATEWAY_GRPC_PORT', settings.gatewayGrpcPort));
    // Each worker serves /healthz, /readyz, /metrics on its own port (WORKER_HTTP_PORT).
    for (let i = 0; i < settings.workers; i++)
      wanted.push({ name: `worker-${i + 1}`, preferred: 0, host: settings.host });

    const ports = await choosePorts(wanted);
    const nats = Array.from({ length: natsNodes }, () => {
      const [client, http, cluster] = ports.splice(0, perNode);
      return { client, http, cluster };
    });
    return {
      nats,
      redis: settings.redisUrl ? undefined : ports.shift(),
      config: settings.configPort.port === 0 ? 0 : ports.shift(),
      gateway: settings.gatewayPort.port === 0 ? 0 : ports.shift(),
      grpc: settings.gatewayGrpcPort.port === 0 ? 0 : ports.shift(),
      workers: ports.splice(0, settings.workers),
    };
  }

  /** Starts the NATS node(s); for a cluster, resolves once all agree on a JetStream meta leader. */
  async startNats(ports) {
    const { settings, out } = this;
    const dir = (i) => join(this.stateDir, ports.length > 1 ? `nats-${i + 1}` : 'nats');
    const configs = natsConfigs({
      ports,
      storeDir: (i) => dir(i),
      auth: settings.natsAuth,
      routeAuth: this.routeAuth,
    });
    const relayLevel = levelNumber(settings.logLevel) <= 20 ? 0 : 40;
    const wait = { timeoutMs: READY_TIMEOUT_MS, signal: this.abort.signal };
    const nodes = configs.map(({ name, config }, i) => {
      mkdirSync(dir(i), { recursive: true, mode: 0o700 });
      const file = join(dir(i), 'nats.conf');
      writePrivate(file, config);
      return this.slot({
        name,
        tier: 'infra',
        // One node of a cluster may die and come back (failover is what the cluster is for);
        // a single server's death takes the cluster down.
        restartable: ports.length > 1,
        spec: () => ({
          name,
          command: this.binaries.nats,
          args: ['-c', file],
          env: this.childEnv(),
          cwd: dir(i),
          relayLevel,
          // Deliberate: services authenticate with user/password (DESIGN §4); the file is 0600.
          // Nodes start together, so their first route attempts fail by design.
          quiet:
            /Plaintext passwords detected|connect to route \(attempt 1\)|Waiting for routing to be established/,
        }),
        ready: (proc) =>
          untilExit(proc, waitForJetStream([ports[i].http], { ...wait, clusterSize: ports.length }), 'ready'),
      });
    });
    this.nats.urls = ports.map((p) => `nats://127.0.0.1:${p.client}`);
    this.nats.monitor = ports.map((p) => `http://127.0.0.1:${p.http}`);
    await Promise.all(nodes.map((node) => node.launch()));
    if (ports.length > 1) {
      out.log(30, `waiting for the ${ports.length}-node JetStream cluster to elect a meta leader`);
      this.nats.leader = await waitForJetStream(
        ports.map((p) => p.http),
        { ...wait, clusterSize: ports.length },
      );
    }
  }

  /** Starts Redis with a generated password, resolves once it answers PING. */
  async startRedis(port) {
    const dir = join(this.stateDir, 'redis');
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const file = join(dir, 'redis.conf');
    writePrivate(file, redisConfig({ port, password: this.redisPassword, dir }));
    this.redis.url = `redis://:${this.redisPassword}@127.0.0.1:${port}`;
    const relayLevel = levelNumber(this.settings.logLevel) <= 20 ? 0 : 40;
    await this.slot({
      name: 'redis',
      tier: 'infra',
      restartable: false,
      spec: () => ({
        name: 'redis',
        command: this.binaries.redis,
        args: [file],
        env: this.childEnv(),
        cwd: dir,
        relayLevel,
      }),
      ready: (proc) =>
        untilExit(
          proc,
          waitForRedis(port, this.redisPassword, { timeoutMs: READY_TIMEOUT_MS, signal: this.abort.signal }),
          'ready',
        ),
    }).launch();
  }

  /** The environment every child starts from: the user's, minus what the runner decides. */
  childEnv() {
    /** @type {NodeJS.ProcessEnv} */
    const env = { ...process.env, [RUN_MARKER]: this.stateDir, LOG_LEVEL: this.settings.logLevel };
    for (const name of ['CONFIG_ADMIN_PASSWORD', 'LOG_FORMAT', 'NATS_CLUSTER', 'WORKERS', 'WORKER_HEAP_MB'])
      delete env[name];
    if (!this.nats.external) {
      for (const name of OWN_NATS_VARS) delete env[name];
      env.NATS_URL = this.nats.urls.join(',');
      const { user, password, token } = this.settings.natsAuth;
      Object.assign(env, token ? { NATS_TOKEN: token } : { NATS_USER: user, NATS_PASSWORD: password });
    }
    return env;
  }

  /** Slot options for one process of a built service (`services/<service>/dist/main.js`). */
  serviceSlot(service, name, extra, restartable) {
    const { settings } = this;
    const main = join(this.root, 'services', service, 'dist', 'main.js');
    return {
      name,
      tier: 'service',
      restartable,
      spec: () => {
        const env = { ...this.childEnv(), HOST: settings.host, ...extra };
        // Least privilege: only the config service sees the admin password; the gateway needs no Redis.
        if (service === 'config') {
          Object.assign(env, {
            CONFIG_ADMIN_USER: settings.adminUser,
            CONFIG_ADMIN_PASSWORD: settings.adminPassword,
            AUTHZ_KV_REPLICAS: String(settings.kvReplicas),
          });
        }
        if (service === 'gateway') delete env.REDIS_URL;
        else if (this.redis.url) env.REDIS_URL = this.redis.url;
        // Workers run with a capped old generation (README "Sizing workers"): without it V8 lets a
        // busy worker's heap grow far past its live data.
        const nodeArgs = service === 'worker' ? [`--max-old-space-size=${this.settings.workerHeapMb}`] : [];
        return { name, command: process.execPath, args: [...nodeArgs, main], env, cwd: this.root, ipc: true };
      },
      // Readiness arrives on the IPC channel, never from a log line: LOG_LEVEL=warn hides `ready`.
      ready: (proc) =>
        proc.waitForMessage((message) => message?.type === 'authz.ready', {
          timeoutMs: READY_TIMEOUT_MS,
          what: 'ready',
        }),
    };
  }

  /**
   * Where a service can be reached: the port from its ready message (it differs from the one
   * given when that was 0) on an address this machine can dial (`HOST=0.0.0.0` is not one).
   */
  serviceUrl(slot, port) {
    const ready = slot?.readyInfo;
    const actual = typeof ready?.port === 'number' ? ready.port : port;
    return `http://${reachableHost(this.settings.host)}:${actual}`;
  }

  /**
   * Stops everything once, in order; resolves with the exit code of the first reason to stop.
   * @param {number} code
   */
  stop(code) {
    if (this.stopping) return this.stopping;
    this.abort.abort();
    this.stopping = (async () => {
      // Each tier is read when its turn comes: a start-up step still under way may add slots
      // (Slot.launch refuses to start once stopping, but the slot itself exists).
      const tier = (pick) =>
        Promise.all(
          this.slots.filter(pick).map((s) => s.stop(s.tier === 'infra' ? INFRA_GRACE_MS : SERVICE_GRACE_MS)),
        );
      // Gateway first: it stops taking requests while workers can still answer its in-flight ones.
      await tier((s) => s.name === 'gateway');
      await tier((s) => s.tier === 'service');
      await tier(() => true);
      this.removeState();
      this.out.log(code === 0 ? 30 : 50, code === 0 ? 'stopped' : `stopped (exit code ${code})`);
      return code;
    })();
    this.stopping.then(this.resolveStopped);
    return this.stopping;
  }

  /** Emergency stop: SIGKILL every process group now (synchronous, for `process.on('exit')`). */
  kill() {
    for (const slot of this.slots) slot.kill();
    this.removeState();
  }

  /** Removes the state directory (NATS stores, generated configs with their passwords). */
  removeState() {
    if (existsSync(this.stateDir)) rmSync(this.stateDir, { recursive: true, force: true });
  }
}
