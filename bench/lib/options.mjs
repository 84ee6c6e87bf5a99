// Command-line options and the sizes of a full and a quick run.
import { resolve } from 'node:path';

/**
 * The throughput scenarios (rps, p50/p99, a ratio to a floor), in the order the table and
 * results.json list them; `--only` picks among these and {@link SYSTEM_SCENARIOS}.
 */
export const THROUGHPUT_SCENARIOS = [
  'echo',
  'jwt_cached',
  'jwt_cached_audit',
  'jwt_hs256_unique',
  'jwt_rs256_unique',
  'jwt_es256_unique',
  'opaque_cached',
  'smart_scoped',
  'dpop_unique',
  'policies_1',
  'policies_100',
  'policies_10000',
  'http_bare',
  'gateway_forward',
  'gateway_forward_assertion',
  'proxied_read',
  'proxied_read_checked',
  'http_bare_post_16k',
  'gateway_proxy_post_16k',
  'bundle_50',
  'bundle_200',
  'grpc_echo',
  'ext_authz_grpc',
];

/** Measurements of another shape: one number or a curve each. */
export const SYSTEM_SCENARIOS = [
  'config_propagation_ms',
  'revocation_visible_ms',
  'cold_start_ms',
  'worker_rss_mib',
  'latency',
  'scale',
];

/** Every scenario name (`--only` picks among them). */
export const SCENARIOS = [...THROUGHPUT_SCENARIOS, ...SYSTEM_SCENARIOS];

const FULL = {
  // Each group of scenarios runs in interleaved rounds (see measure.mjs).
  rounds: 4,
  requests: 30_000,
  warmup: 3_000,
  // RS256 signing costs ~1 ms a token, so fewer are pre-minted (in parallel threads).
  rsRequests: 10_000,
  rsWarmup: 1_000,
  httpRequests: 24_000,
  // Per round and scenario: each round's load process warms up on its own.
  httpWarmup: 1_500,
  // Paths that run at a few thousand requests a second at most here (a proxied read or POST,
  // ext_authz over one HTTP/2 channel): fewer requests, so the whole run stays under 5 minutes.
  slowRequests: 6_000,
  slowWarmup: 500,
  policies: 10_000,
  users: 100_000,
  rssTokens: 100_000,
  propagationIterations: 50,
  revocationIterations: 50,
  coldStarts: 3,
  // Open-loop latency curves: each point (rate) runs this long, after one warm-up at the lowest rate.
  latencyMs: 1_500,
  latencyWarmupMs: 750,
};

const QUICK = {
  rounds: 1,
  requests: 5_000,
  warmup: 1_000,
  rsRequests: 1_000,
  rsWarmup: 200,
  httpRequests: 10_000,
  httpWarmup: 2_000,
  slowRequests: 2_000,
  slowWarmup: 500,
  // Recorded under the policies_10000 key; results say quick: true.
  policies: 2_000,
  users: 10_000,
  rssTokens: 10_000,
  propagationIterations: 10,
  revocationIterations: 10,
  coldStarts: 1,
  latencyMs: 300,
  latencyWarmupMs: 300,
};

const USAGE = `usage: node bench/run.mjs [--quick] [--only=a,b] [--concurrency=32] [--workers=2] [--profile-worker=DIR] [--profile-gateway=DIR] [--out=FILE]
  --quick              CI smoke size (under a minute); results record quick: true
  --only=a,b           run only these scenarios (no results.json is written): ${SCENARIOS.join(', ')}
  --concurrency=N      requests in flight (NATS loops / HTTP connections), default 32
  --workers=N          decision workers (≥ 2 for config propagation), default 2
  --profile-worker=DIR run the workers with --cpu-prof, profiles written to DIR when they stop,
                       with windows.json (each scenario's measured window) for cpuprofile-top.mjs
  --profile-gateway=DIR the same for the gateway
  --out=FILE           write the results there instead of bench/results.json`;

/** Parses argv; exits with usage on anything unknown. */
export function parseOptions(argv = process.argv.slice(2)) {
  const options = { quick: false, only: undefined, concurrency: 32, workers: 2, profileDir: undefined };
  for (const arg of argv) {
    const [flag, value] = arg.split(/=(.*)/s, 2);
    if (flag === '--quick') options.quick = true;
    else if (flag === '--only' && value) options.only = new Set(value.split(','));
    else if (flag === '--concurrency' && Number(value) >= 1) options.concurrency = Number(value);
    else if (flag === '--workers' && Number(value) >= 1) options.workers = Number(value);
    else if (flag === '--profile-worker' && value) options.profileDir = resolve(value);
    else if (flag === '--profile-gateway' && value) options.gatewayProfileDir = resolve(value);
    else if (flag === '--out' && value) options.out = resolve(value);
    else {
      process.stderr.write(`${arg === '--help' || arg === '-h' ? '' : `unknown option ${arg}\n`}${USAGE}\n`);
      process.exit(arg === '--help' || arg === '-h' ? 0 : 2);
    }
  }
  for (const name of options.only ?? []) {
    if (!SCENARIOS.includes(name)) {
      process.stderr.write(`unknown scenario ${name}\n${USAGE}\n`);
      process.exit(2);
    }
  }
  options.sizes = options.quick ? QUICK : FULL;
  options.want = (name) => options.only === undefined || options.only.has(name);
  return options;
}
