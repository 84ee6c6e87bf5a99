#!/usr/bin/env node
// CPU cost of the worker's own code for one check, without NATS or the kernel: the built
// CheckService answering in-memory messages with the benchmark's configuration (HS256 JWT
// repeated, the allowing policy, the bench User). What `npm run bench` cannot separate from
// socket writes and the scheduler of a shared 2-core box, this measures to a tenth of a µs.
// usage: node bench/hot-path.mjs [--n=200000] [--rounds=5] [--fill=100000] [--unique] [--policies=10000]
// --unique sends a distinct pre-minted token with every check (each verified once), as the
// jwt_hs256_unique scenario does.
// --fill first verifies that many distinct tokens, so the token cache is as full as in
// production (and as in the cluster benchmark after the unique-token scenarios).
// --policies loads that many AccessPolicies in all, the fillers of the policies_N scenarios (which
// never allow the probe) before the allowing one.
import { randomBytes } from 'node:crypto';
import { compileOperationResolver } from '../packages/policy/dist/index.js';
import { createLogger } from '../packages/runtime/dist/index.js';
import {
  ClientAuthenticator,
  MemoryReplayStore,
  SenderConstraints,
} from '../packages/verifier/dist/index.js';
import { CheckService } from '../services/worker/dist/check-service.js';
import { ConfigState } from '../services/worker/dist/config-state.js';
import { createTokenVerifier } from '../services/worker/dist/described.js';
import { redactUri } from '../services/worker/dist/events.js';
import { createWorkerMetrics } from '../services/worker/dist/metrics.js';
import { checkPayload } from './lib/cluster.mjs';
import { ALLOW_POLICY, BENCH_USER, fillerPolicy, ISS, introspectors, user } from './lib/resources.mjs';
import { claimsFor, mintJwt } from './lib/tokens.mjs';

const arg = (name, fallback) =>
  Number(process.argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1] ?? fallback);
const n = arg('n', 200_000);
const rounds = arg('rounds', 5);
const fill = arg('fill', 0);
const unique = process.argv.includes('--unique');
const policies = arg('policies', 1);

const logger = createLogger('hot-path', 'warn');
const metrics = createWorkerMetrics();
const verifier = createTokenVerifier({ logger, metrics: metrics.verifier });
const config = new ConfigState(logger, (list) => verifier.setIntrospectors(list));
const keys = { hsSecret: randomBytes(32).toString('base64url') };
let revision = 0;
for (const resource of [...introspectors(keys, { url: 'http://127.0.0.1:9/introspect' }), ALLOW_POLICY]) {
  if (resource.resourceType === 'TokenIntrospector' && resource.id !== 'bench-hs256') continue;
  config.apply({ key: `${resource.resourceType}.${resource.id}`, revision: ++revision, value: resource });
}
for (let i = 0; i < policies - 1; i++) {
  const filler = fillerPolicy(i);
  config.apply({ key: `AccessPolicy.${filler.id}`, revision: ++revision, value: filler });
}
config.commit();
const benchUser = user(BENCH_USER);
/** @type {any} the one UserDirectory method the decision reads */
const users = { get: (id) => (id === BENCH_USER ? benchUser : undefined) };

let published = 0;
// A stand-in for the one NatsConnection method pair CheckService uses on its hot path.
/** @type {any} */
const nc = {
  subscribe: (_subject, { callback }) => ({ callback, isClosed: () => false }),
  publish: () => published++,
};
const service = new CheckService(
  nc,
  {
    config,
    verifier,
    users,
    operations: compileOperationResolver(),
    clients: new ClientAuthenticator({ client: (id) => config.client(id) }),
    inlineRequests: false,
    sender: new SenderConstraints(new MemoryReplayStore()),
  },
  {
    subjects: {
      check: 'authz.v1.check',
      decisions: 'authz.v1.decisions',
      revoke: 'authz.v1.revoke',
      stats: 'authz.v1.stats',
    },
    maxInflight: 1_000_000,
    workerId: 'hot-path:1',
    logger,
    metrics,
    redactUri,
  },
);
service.start();
const { callback } = /** @type {any} */ (service).sub;
const payload = checkPayload(mintJwt('HS256', keys.hsSecret, claimsFor(ISS.hs, 'cached', 0)));
const series = unique
  ? Array.from({ length: 20_000 + n * rounds }, (_, i) =>
      checkPayload(mintJwt('HS256', keys.hsSecret, claimsFor(ISS.hs, 'unique', i))),
    )
  : [];
let answered = 0;
let sent = 0;
let last;
const msg = {
  data: payload,
  headers: undefined,
  respond(data) {
    last = data;
    answered++;
  },
};

// Answers are batched per event-loop turn, so feed in bursts and let the loop turn between them.
const BURST = 16;
async function run(count) {
  const target = answered + count;
  while (answered < target) {
    for (let i = 0; i < BURST; i++) {
      if (unique) msg.data = series[sent++] ?? payload;
      callback(null, msg);
    }
    await new Promise(setImmediate);
  }
}
for (let i = 0; i < fill; i++) {
  const token = mintJwt('HS256', keys.hsSecret, claimsFor(ISS.hs, `fill-${i}`, i));
  await verifier.verify(token);
}
await run(20_000);
const reply = JSON.parse(Buffer.from(last).toString());
if (reply.allow !== true) throw new Error(`not allowed: ${reply.reason}`);
const results = [];
for (let r = 0; r < rounds; r++) {
  const cpu = process.cpuUsage();
  await run(n);
  const used = process.cpuUsage(cpu);
  results.push((used.user + used.system) / n);
}
results.sort((a, b) => a - b);
process.stdout.write(
  `CPU µs per check (best / median of ${rounds} × ${n}): ${results[0].toFixed(2)} / ${results[Math.floor(rounds / 2)].toFixed(2)}; ${fill} tokens cached first; ${policies} policies; heap used ${Math.round(process.memoryUsage().heapUsed / 2 ** 20)} MiB\n`,
);
