#!/usr/bin/env node
import { AuthzClient } from '@authz/client';
import { announceReady, connectNats, createLogger, EnvError, exitOnFatal, onShutdown } from '@authz/runtime';
import { loadAssertionSigner } from './assertion.js';
import { type GatewayEnv, readGatewayEnv } from './env.js';
import { startExtAuthzServer } from './envoy/grpc-server.js';
import { createGatewayServer } from './gateway.js';
import { createGatewayMetrics } from './metrics.js';
import { UpstreamProxy } from './proxy.js';

process.title = 'authz-gateway';

async function main(): Promise<void> {
  let env: GatewayEnv;
  try {
    env = readGatewayEnv();
  } catch (err) {
    process.stderr.write(`authz-gateway: ${(err as Error).message}\n`);
    process.exit(err instanceof EnvError ? 2 : 1);
  }
  const logger = createLogger('authz-gateway', env.logLevel);
  exitOnFatal(logger);
  const metrics = createGatewayMetrics();
  const nc = await connectNats(env, 'authz-gateway', logger, (type) => metrics.natsStatus.inc({ type }));
  const client = new AuthzClient(nc, {
    subjectPrefix: env.subjectPrefix,
    timeoutMs: env.checkTimeoutMs,
    maxInFlight: env.maxInFlightChecks,
  });
  const proxy = env.upstreamUrl ? new UpstreamProxy(env.upstreamUrl, env.upstreamTimeoutMs) : undefined;
  const assertion = env.assertion ? await loadAssertionSigner(env.assertion, env.assertion.key) : undefined;
  const server = createGatewayServer({
    client,
    metrics,
    proxy,
    assertion,
    maxCheckBodyBytes: env.maxCheckBodyBytes,
    trustedProxies: env.trustedProxies,
    ready: () => !nc.isClosed() && nc.info !== undefined,
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(env.port, env.host, () => resolve());
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : env.port;
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
          },
          env.host,
          env.grpcPort,
        );
  announceReady(logger, 'authz-gateway', {
    port,
    host: env.host,
    url: `http://${env.host}:${port}`,
    upstream: env.upstreamUrl?.origin,
    grpc_port: extAuthz?.port,
    assertion_kid: assertion?.kid,
  });

  onShutdown(async () => {
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeIdleConnections();
    });
    await extAuthz?.close();
    proxy?.close();
    await nc.drain();
  }, logger);
}

void main().catch((err: unknown) => {
  process.stderr.write(`authz-gateway: ${(err as Error)?.stack ?? String(err)}\n`);
  process.exit(1);
});
