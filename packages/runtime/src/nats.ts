import { readFileSync } from 'node:fs';
import { CONFIG_BUCKET, REVOCATION_BUCKET } from '@authz/protocol';
import { jetstream } from '@nats-io/jetstream';
import { type KV, Kvm } from '@nats-io/kv';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import type { CommonEnv } from './env.js';
import type { Logger } from './logger.js';

export type { KV } from '@nats-io/kv';
export type { NatsConnection } from '@nats-io/transport-node';

/**
 * Connects to NATS the way every authz process does: reconnect forever with backoff, no async
 * stack traces on the hot path, credentials and TLS from the environment, and status changes
 * logged.
 */
export async function connectNats(
  env: CommonEnv,
  name: string,
  logger: Logger,
  onStatus?: (type: string) => void,
): Promise<NatsConnection> {
  const tls = env.natsTls
    ? {
        ...(env.natsTls.caFile ? { ca: readFileSync(env.natsTls.caFile, 'utf8') } : {}),
        ...(env.natsTls.certFile ? { cert: readFileSync(env.natsTls.certFile, 'utf8') } : {}),
        ...(env.natsTls.keyFile ? { key: readFileSync(env.natsTls.keyFile, 'utf8') } : {}),
      }
    : undefined;
  const nc = await connect({
    servers: env.natsServers,
    name,
    user: env.natsUser,
    pass: env.natsPassword,
    token: env.natsToken,
    tls,
    noAsyncTraces: true,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 250,
    reconnectJitter: 250,
    waitOnFirstConnect: true,
    pingInterval: 10_000,
  });
  void (async () => {
    for await (const status of nc.status()) {
      const level = status.type === 'disconnect' || status.type === 'error' ? 'warn' : 'info';
      if (status.type === 'ping') continue;
      logger[level](
        { nats: status.type, server: 'server' in status ? status.server : undefined },
        'nats status',
      );
      onStatus?.(status.type);
    }
  })();
  return nc;
}

/**
 * Whether the connection can carry messages now: not between a disconnect and its reconnect,
 * not closed, not draining. The NATS part of every service's readiness.
 */
export function natsHealth(nc: NatsConnection): () => boolean {
  let connected = true;
  void (async () => {
    for await (const status of nc.status()) {
      if (status.type === 'disconnect') connected = false;
      else if (status.type === 'reconnect') connected = true;
    }
  })();
  return () => connected && !nc.isClosed() && !nc.isDraining();
}

/** Opens (creating when missing) the configuration KV bucket `authz_config`. */
export async function openConfigBucket(
  nc: NatsConnection,
  {
    create = false,
    replicas = 1,
    timeoutMs,
  }: {
    create?: boolean;
    replicas?: number;
    /** JetStream API timeout of this handle's requests (nats.js default 5 s). */
    timeoutMs?: number;
  } = {},
): Promise<KV> {
  const kvm = new Kvm(timeoutMs === undefined ? nc : jetstream(nc, { timeout: timeoutMs }));
  return create ? kvm.create(CONFIG_BUCKET, { history: 1, replicas }) : kvm.open(CONFIG_BUCKET);
}

/**
 * Opens (creating when missing) the durable revocation bucket `authz_revocations` (DESIGN §11),
 * replicated like the configuration. One value per key. No bucket `max_age`: an entry must live
 * exactly as long as its tokens could be valid, which only its own `expires_at` says (the config
 * service prunes by it; NATS 2.9 has no per-message TTL).
 */
export async function openRevocationBucket(
  nc: NatsConnection,
  { create = false, replicas = 1 }: { create?: boolean; replicas?: number } = {},
): Promise<KV> {
  const kvm = new Kvm(nc);
  return create ? kvm.create(REVOCATION_BUCKET, { history: 1, replicas }) : kvm.open(REVOCATION_BUCKET);
}
