// Open-loop curves of Envoy ext_authz over gRPC (issue 19): the gateway's Check against a bare
// grpc-js server of the same service and protos (grpc_echo), each over one HTTP/2 channel from
// this process, at the same fractions of the floor's capacity as the other curves.
import { checkRequest, clientOf } from './ext-authz.mjs';
import { LOAD_FRACTIONS } from './load-fractions.mjs';
import { openLoop } from './open-loop.mjs';
import { freePort, startChild, startService } from './procs.mjs';

/** One Check call as an open-loop outcome: ok, shed (UNAVAILABLE, or a 503 denial), or a problem. */
function sender(client, request) {
  return () =>
    new Promise((resolve) =>
      client.Check(request, { deadline: Date.now() + 10_000 }, (err, res) => {
        // grpc status 14 UNAVAILABLE is the gRPC form of "cannot decide now".
        if (err) resolve(err.code === 14 ? 'shed' : `call failed: ${err.message}`);
        else if (res?.status?.code === 0) resolve('ok');
        else if (res?.denied_response?.status?.code === 'ServiceUnavailable' || res?.status?.code === 14)
          resolve('shed');
        else resolve(`not allowed: ${res?.status?.message}`);
      }),
    );
}

/** grpc_echo vs ext_authz_grpc; capacity from the closed-loop grpc_echo of this run when measured. */
export async function grpcCurves(b) {
  const echoPort = await freePort();
  const echo = await startChild('grpc-echo.mjs', [String(echoPort)], 'READY');
  const grpcPort = await freePort();
  const gateway = await startService('gateway', {
    ...b.cluster.env,
    GATEWAY_PORT: String(await freePort()),
    GATEWAY_GRPC_PORT: String(grpcPort),
  });
  const floorClient = clientOf(`127.0.0.1:${echoPort}`);
  const pathClient = clientOf(`127.0.0.1:${grpcPort}`);
  try {
    const request = checkRequest(b.tokens.cached);
    const floorSend = sender(floorClient, request);
    const pathSend = sender(pathClient, request);
    const { latencyMs, latencyWarmupMs } = b.opts.sizes;
    const capacity = b.measurements.grpc_echo?.result().rps ?? (await capacityOf(floorSend, latencyWarmupMs));
    for (const send of [floorSend, pathSend])
      await openLoop({ send, rate: capacity * LOAD_FRACTIONS[0], durationMs: latencyWarmupMs });
    const points = [];
    for (const fraction of LOAD_FRACTIONS) {
      const rate = capacity * fraction;
      const floor = await openLoop({ send: floorSend, rate, durationMs: latencyMs });
      const path = await openLoop({ send: pathSend, rate, durationMs: latencyMs });
      points.push({ fraction, floor, path });
    }
    return { floor: 'grpc_echo', path: 'ext_authz_grpc', capacity_rps: capacity, points };
  } finally {
    floorClient.close();
    pathClient.close();
    await gateway.stop();
    await echo.stop();
  }
}

/** Closed-loop capacity of `send` (32 outstanding calls) when grpc_echo was not measured. */
async function capacityOf(send, durationMs) {
  let done = 0;
  const end = performance.now() + durationMs;
  const started = performance.now();
  const loop = async () => {
    while (performance.now() < end) {
      const outcome = await send();
      if (outcome !== 'ok') throw new Error(`grpc_echo answered ${outcome}`);
      done++;
    }
  };
  await Promise.all(Array.from({ length: 32 }, loop));
  return Math.round((done / (performance.now() - started)) * 1000);
}
