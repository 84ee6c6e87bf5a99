// ext_authz_grpc against its own floor, grpc_echo (a bare grpc-js unary server of the same
// service and protos), interleaved round by round like the HTTP scenarios. The load is a closed
// loop of `concurrency` outstanding Check calls from this process over one HTTP/2 channel.
import { credentials, loadPackageDefinition } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { ENVOY_PROTO_OPTIONS } from './ext-authz-protos.mjs';
import { recordMs } from './histogram.mjs';
import { Measurement } from './measure.mjs';
import { monotonicUs } from './nats-load.mjs';
import { freePort, startChild, startService } from './procs.mjs';
import { PROBE } from './resources.mjs';
import { CLOSED_LOOP } from './throughput.mjs';

/** The CheckRequest Envoy would send for the probe request with the cached token. */
export function checkRequest(token) {
  return {
    attributes: {
      source: { address: { socket_address: { address: '203.0.113.9', port_value: 40000 } } },
      request: {
        http: {
          method: PROBE.method,
          path: PROBE.uri,
          host: 'fhir.example.com',
          scheme: 'https',
          protocol: 'HTTP/1.1',
          headers: { authorization: `Bearer ${token}`, ':authority': 'fhir.example.com' },
        },
      },
    },
  };
}

export function clientOf(address) {
  /** @type {any} the generated package tree (grpc-js types it loosely) */
  const pkg = loadPackageDefinition(
    loadSync('envoy/service/auth/v3/external_auth.proto', ENVOY_PROTO_OPTIONS),
  );
  return new pkg.envoy.service.auth.v3.Authorization(address, credentials.createInsecure());
}

/**
 * `count` Check calls, `concurrency` at a time; every answer must be an allow.
 * @param {any} client
 * @param {unknown} request
 * @param {{count: number, concurrency: number, histogram?: any}} load
 */
async function grpcLoad(client, request, { count, concurrency, histogram }) {
  let next = 0;
  let failures = 0;
  let firstFailure;
  const call = () =>
    new Promise((resolve) =>
      client.Check(request, { deadline: Date.now() + 10_000 }, (err, res) =>
        resolve(
          err
            ? `call failed: ${err.message}`
            : res?.status?.code === 0
              ? undefined
              : `not allowed: ${res?.status?.message}`,
        ),
      ),
    );
  const loop = async () => {
    while (next++ < count) {
      const sent = performance.now();
      const problem = await call();
      if (histogram) recordMs(histogram, performance.now() - sent);
      if (problem) {
        failures++;
        firstFailure ??= problem;
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, loop));
  return { failures, firstFailure };
}

/** grpc_echo and ext_authz_grpc, when wanted. */
export async function extAuthzScenarios(b) {
  const want = b.opts.want;
  if (!want('grpc_echo') && !want('ext_authz_grpc')) return;
  const { slowRequests: httpRequests, slowWarmup: httpWarmup, rounds } = b.opts.sizes;
  const request = checkRequest(b.tokens.cached);
  const targets = [];
  let echo;
  let gateway;
  if (want('grpc_echo')) {
    const port = await freePort();
    echo = await startChild('grpc-echo.mjs', [String(port)], 'READY');
    targets.push(['grpc_echo', clientOf(`127.0.0.1:${port}`)]);
  }
  if (want('ext_authz_grpc')) {
    const grpcPort = await freePort();
    gateway = await startService('gateway', {
      ...b.cluster.env,
      GATEWAY_PORT: String(await freePort()),
      GATEWAY_GRPC_PORT: String(grpcPort),
      ...CLOSED_LOOP,
    });
    targets.push(['ext_authz_grpc', clientOf(`127.0.0.1:${grpcPort}`)]);
  }
  try {
    for (const [, client] of targets) {
      const warm = await grpcLoad(client, request, { count: httpWarmup, concurrency: b.opts.concurrency });
      if (warm.failures) throw new Error(`ext_authz warm-up failed: ${warm.firstFailure}`);
    }
    for (let round = 0; round < rounds; round++) {
      for (const [name, client] of targets) {
        b.measurements[name] ??= new Measurement(name);
        const into = b.measurements[name];
        const count = Math.ceil(httpRequests / rounds);
        const window = monotonicUs();
        const started = performance.now();
        const outcome = await grpcLoad(client, request, {
          count,
          concurrency: b.opts.concurrency,
          histogram: into.histogram,
        });
        into.add({
          count,
          elapsedMs: performance.now() - started,
          ...outcome,
          window: [window, monotonicUs()],
        });
      }
    }
  } finally {
    for (const [, client] of targets) client.close();
    await echo?.stop();
    await gateway?.stop();
  }
  for (const [name] of targets) {
    const r = b.measurements[name].result();
    const failed = r.failures ? `, ${r.failures} FAILED: ${r.firstFailure}` : '';
    b.log(`${name}: ${r.rps} rps, p50 ${r.p50_us} µs, p99 ${r.p99_us} µs${failed}`);
  }
}
