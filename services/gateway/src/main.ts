#!/usr/bin/env node
import { AuthzClient } from '@authz/client';
import { announceReady, connectNats, createLogger, EnvError, exitOnFatal, onShutdown } from '@authz/runtime';
import { type GatewayEnv, readGatewayEnv } from './env.js';
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
  const server = createGatewayServer({
    client,
    metrics,
    proxy,
    maxCheckBodyBytes: env.maxCheckBodyBytes,
    ready: () => !nc.isClosed() && nc.info !== undefined,
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(env.port, env.host, () => resolve());
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : env.port;
  announceReady(logger, 'authz-gateway', {
    port,
    host: env.host,
    url: `http://${env.host}:${port}`,
    upstream: env.upstreamUrl?.origin,
  });

  onShutdown(async () => {
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeIdleConnections();
    });
    proxy?.close();
    await nc.drain();
  }, logger);
}

void main().catch((err: unknown) => {
  process.stderr.write(`authz-gateway: ${(err as Error)?.stack ?? String(err)}\n`);
  process.exit(1);
});
