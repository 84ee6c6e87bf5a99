import { DEFAULT_CLIENT_CERT_HEADER } from '@authz/protocol';
import { type CommonEnv, EnvReader, readCommonEnv } from '@authz/runtime';
import { type AssertionKey, type AssertionSettings, readAssertionKey } from './assertion.js';
import type { SenderOptions } from './sender.js';
import { DEFAULT_TRUSTED_PROXIES, TrustedProxies } from './trusted-proxies.js';

/** Gateway settings, parsed once at start-up. */
export interface GatewayEnv extends CommonEnv {
  port: number;
  host: string;
  /** Where allowed requests are proxied; unset → allowed requests get the decision JSON. */
  upstreamUrl?: URL;
  /** Overall deadline of one check (including the client's single retry). */
  checkTimeoutMs: number;
  /** Request bodies are read whole up to this size (JSON ones shown to policies); larger → 413. */
  maxCheckBodyBytes: number;
  /** Peers whose X-Forwarded-* / Forwarded headers are believed (DESIGN §10). */
  trustedProxies: TrustedProxies;
  /** Upstream response deadline. */
  upstreamTimeoutMs: number;
  /** Checks waiting for a worker at once; beyond it a request is answered 503 at once. */
  maxInFlightChecks: number;
  /** `GATEWAY_SHED_LAG_MS`: shed new requests (503) while the event loop is this far behind; 0: never. */
  shedLagMs: number;
  /** `GATEWAY_SHED_BUSY_PERCENT`: shed while the event loop was busier than this over 100 ms; 0: never. */
  shedBusyPercent: number;
  /** Envoy ext_authz gRPC port (DESIGN §14); 0 turns it off. */
  grpcPort: number;
  /** Signed identity assertions (`GATEWAY_ASSERTION_*`), when a key file is given. */
  assertion?: AssertionSettings & { key: AssertionKey };
  /** Largest upstream response buffered for a SMART scope check; larger ones are refused (502). */
  maxCheckedResponseBytes: number;
  /** `GATEWAY_PUBLIC_URL`, `GATEWAY_CLIENT_CERT_HEADER`, `GATEWAY_TRUSTED_PROXIES` (DESIGN §13, §10). */
  sender: SenderOptions;
}

/** Reads the gateway environment; throws EnvError listing every problem. */
export function readGatewayEnv(source: NodeJS.ProcessEnv = process.env): GatewayEnv {
  const env = new EnvReader(source);
  const common = readCommonEnv(env);
  const upstream = env.string('UPSTREAM_URL');
  let upstreamUrl: URL | undefined;
  if (upstream !== undefined) {
    try {
      upstreamUrl = new URL(upstream);
      if (upstreamUrl.protocol !== 'http:' && upstreamUrl.protocol !== 'https:') {
        env.problem(`UPSTREAM_URL=${upstream} must be an http:// or https:// URL`);
      }
    } catch {
      env.problem(`UPSTREAM_URL=${JSON.stringify(upstream)} is not a valid URL`);
    }
  }
  const trustedSetting = env.string('GATEWAY_TRUSTED_PROXIES', DEFAULT_TRUSTED_PROXIES);
  let trustedProxies = TrustedProxies.parse(DEFAULT_TRUSTED_PROXIES);
  try {
    trustedProxies = TrustedProxies.parse(trustedSetting);
  } catch (err) {
    env.problem(`GATEWAY_TRUSTED_PROXIES: ${(err as Error).message}`);
  }
  const sender = readSenderEnv(env, trustedProxies);
  const result: GatewayEnv = {
    ...common,
    port: env.port('GATEWAY_PORT', 8080),
    host: env.string('HOST', '127.0.0.1'),
    upstreamUrl,
    checkTimeoutMs: env.int('GATEWAY_CHECK_TIMEOUT_MS', 1000, { min: 10, max: 60_000 }),
    maxCheckBodyBytes: env.int('GATEWAY_MAX_CHECK_BODY_BYTES', 64 * 1024, { min: 0, max: 1024 * 1024 }),
    trustedProxies,
    upstreamTimeoutMs: env.int('GATEWAY_UPSTREAM_TIMEOUT_MS', 30_000, { min: 100, max: 600_000 }),
    maxInFlightChecks: env.int('GATEWAY_MAX_INFLIGHT_CHECKS', 1024, { min: 1, max: 1_000_000 }),
    shedLagMs: env.int('GATEWAY_SHED_LAG_MS', 100, { min: 0, max: 60_000 }),
    shedBusyPercent: env.int('GATEWAY_SHED_BUSY_PERCENT', 95, { min: 0, max: 100 }),
    grpcPort: env.port('GATEWAY_GRPC_PORT', 9191),
    assertion: readAssertionEnv(env),
    maxCheckedResponseBytes: env.int('GATEWAY_MAX_CHECKED_RESPONSE_BYTES', 1024 * 1024, {
      min: 1024,
      max: 64 * 1024 * 1024,
    }),
    sender,
  };
  env.done();
  return result;
}

/** `GATEWAY_ASSERTION_KEY_FILE` (read and checked now), `…_ISSUER` (default `authz`), `…_AUDIENCE`. */
function readAssertionEnv(env: EnvReader): GatewayEnv['assertion'] {
  const keyFile = env.string('GATEWAY_ASSERTION_KEY_FILE');
  const issuer = env.string('GATEWAY_ASSERTION_ISSUER', 'authz');
  const audience = env.string('GATEWAY_ASSERTION_AUDIENCE');
  if (keyFile === undefined) return undefined;
  try {
    return { keyFile, issuer, audience, key: readAssertionKey(keyFile) };
  } catch (err) {
    env.problem(`GATEWAY_ASSERTION_KEY_FILE: ${(err as Error).message}`);
    return undefined;
  }
}

function readSenderEnv(env: EnvReader, trustedProxies: TrustedProxies): SenderOptions {
  const header = env.string('GATEWAY_CLIENT_CERT_HEADER', DEFAULT_CLIENT_CERT_HEADER).toLowerCase();
  if (!/^[a-z0-9-]+$/.test(header))
    env.problem(`GATEWAY_CLIENT_CERT_HEADER=${JSON.stringify(header)} is not a header name`);
  const publicUrl = env.string('GATEWAY_PUBLIC_URL');
  let publicOrigin: string | undefined;
  if (publicUrl !== undefined) {
    // DPoP htu = this origin + the request path, so it must be an origin and nothing more.
    const url = URL.canParse(publicUrl) ? new URL(publicUrl) : undefined;
    if (
      url &&
      /^https?:$/.test(url.protocol) &&
      url.pathname === '/' &&
      !url.search &&
      !url.hash &&
      !url.username
    ) {
      publicOrigin = url.origin;
    } else {
      env.problem(
        `GATEWAY_PUBLIC_URL=${JSON.stringify(publicUrl)} must be an origin such as https://api.example.com (no path, query or credentials)`,
      );
    }
  }
  return { publicOrigin, clientCertHeader: header, trustedProxies };
}
