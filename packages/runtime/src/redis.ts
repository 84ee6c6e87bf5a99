import { Redis, type RedisOptions } from 'ioredis';
import type { Logger } from './logger.js';

export type { Redis } from 'ioredis';

/**
 * A Redis client tuned for a cache that must never slow a decision: no offline queue, no
 * retries per command, a short command timeout, and errors logged (rate-limited) instead of
 * thrown at the process. Callers treat every error as a miss.
 *
 * `REDIS_URL` may be `redis://`, `rediss://` (TLS) with password; Sentinel via
 * `redis-sentinel://host:port,host:port/<master-name>`.
 */
export function connectRedis(url: string, logger: Logger, commandTimeoutMs = 50): Redis {
  const options: RedisOptions = {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    commandTimeout: commandTimeoutMs,
    connectTimeout: 1000,
    lazyConnect: false,
    enableAutoPipelining: true,
    retryStrategy: (times) => Math.min(100 * 2 ** Math.min(times, 5), 2000),
  };
  const redis = url.startsWith('redis-sentinel://')
    ? new Redis(sentinelOptions(url, options))
    : new Redis(url, options);
  let lastLog = 0;
  redis.on('error', (err: Error) => {
    const now = Date.now();
    if (now - lastLog > 5000) {
      lastLog = now;
      logger.warn({ err: err.message }, 'redis unavailable; caches fall back to memory and origin');
    }
  });
  redis.on('ready', () => logger.info('redis ready'));
  return redis;
}

function sentinelOptions(url: string, base: RedisOptions): RedisOptions {
  const parsed = new URL(url.replace('redis-sentinel://', 'http://'));
  const hosts = parsed.host.split(',').map((hp) => {
    const [host, port] = hp.split(':');
    return { host: host ?? '127.0.0.1', port: Number(port ?? 26379) };
  });
  return {
    ...base,
    sentinels: hosts,
    name: parsed.pathname.replace(/^\//, '') || 'mymaster',
    password: parsed.password ? decodeURIComponent(parsed.password) : undefined,
    username: parsed.username ? decodeURIComponent(parsed.username) : undefined,
  };
}
