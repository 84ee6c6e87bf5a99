#!/usr/bin/env node
import { AuthzClient } from '@authz/client';
import {
  connectNats,
  type Logger,
  listen,
  natsHealth,
  runService,
  type StartedService,
} from '@authz/runtime';
import { loadFhirDefinitions } from '@authz/smart';
import { loadAssertionSigner } from './assertion.js';
import { type GatewayEnv, readGatewayEnv } from './env.js';
import { startExtAuthzServer } from './envoy/grpc-server.js';
import { createGatewayServer } from './gateway.js';
import { createGatewayMetrics } from './metrics.js';
import { OverloadGuard } from './overload.js';
import { UpstreamProxy } from './proxy.js';

runService({ name: 'authz-gateway', readEnv: readGatewayEnv, start: startGateway });

/** Connects to NATS, listens for HTTP (and Envoy's gRPC), and says how to stop. */
async function startGateway(env: GatewayEnv, logger: Logger): Promise<StartedService> {
  const metrics = createGatewayMetrics();
  const nc = await connectNats(env, 'authz-gateway', logger, (type) => metrics.natsStatus.inc({ type }));
  const client = new AuthzClient(nc, {
    subjectPrefix: env.subjectPrefix,
    timeoutMs: env.checkTimeoutMs,
    maxInFlight: env.maxInFlightChecks,
  });
  const proxy = env.upstreamUrl ? new UpstreamProxy(env.upstreamUrl, env.upstreamTimeoutMs) : undefined;
  const assertion = env.assertion ? await loadAssertionSigner(env.assertion, env.assertion.key) : undefined;
  // The R4 definitions responses are checked with (SMART scopes): loaded once, before serving.
  loadFhirDefinitions();
  const overload = new OverloadGuard(env.shedLagMs, env.shedBusyPercent).start();
  const server = createGatewayServer({
    overload,
    client,
    metrics,
    proxy,
    assertion,
    maxCheckBodyBytes: env.maxCheckBodyBytes,
    trustedProxies: env.trustedProxies,
    maxCheckedResponseBytes: env.maxCheckedResponseBytes,
    sender: env.sender,
    ready: natsHealth(nc),
  });
  const port = await listen(server, env.port, env.host);
  // DESIGN §14: Envoy ext_authz over gRPC; a port that cannot be bound stops the gateway.
  const extAuthz =
    env.grpcPort === 0
      ? undefined
      : await startExtAuthzServer(
          {
            client,
            metrics,
            assertion,
            maxCheckBodyBytes: env.maxCheckBodyBytes,
            checkTimeoutMs: env.checkTimeoutMs,
            overload,
            sender: env.sender,
          },
          env.host,
          env.grpcPort,
        );
  const ready = {
    port,
    host: env.host,
    url: `http://${env.host}:${port}`,
    upstream: env.upstreamUrl?.origin,
    grpc_port: extAuthz?.port,
    assertion_kid: assertion?.kid,
  };
  const stop = async () => {
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeIdleConnections();
    });
    await extAuthz?.close();
    overload.stop();
    proxy?.close();
    await nc.drain();
  };
  return { ready, stop };
}
