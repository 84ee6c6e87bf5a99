import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import type { AuthzClient } from '@authz/client';
import { type CheckReply, isRefusal } from '@authz/protocol';
import {
  type GrpcObject,
  loadPackageDefinition,
  Server,
  ServerCredentials,
  type ServerUnaryCall,
  type ServiceDefinition,
  type sendUnaryData,
} from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { type AssertionSigner, allowedHeaders } from '../assertion.js';
import type { GatewayMetrics } from '../metrics.js';
import { requestHtu } from '../origin.js';
import type { OverloadGuard } from '../overload.js';
import { denialOf } from '../responses.js';
import type { SenderOptions } from '../sender.js';
import { checkFromAttributes, type EnvoyCheckRequest } from './attributes.js';
import { allowResponse, deniedResponse, type EnvoyCheckResponse } from './check-response.js';

/** The directory of the ext_authz `.proto` files (written from Envoy's published v3 API). */
export const PROTO_DIR = fileURLToPath(new URL('../../proto/', import.meta.url));

/** What the ext_authz gRPC service needs. */
export interface ExtAuthzDeps {
  client: AuthzClient;
  metrics: GatewayMetrics;
  assertion?: AssertionSigner;
  maxCheckBodyBytes: number;
  /** the gateway's own check deadline; Envoy's gRPC deadline shortens it */
  checkTimeoutMs: number;
  /** sheds calls while the gateway's own event loop is behind (GATEWAY_SHED_LAG_MS) */
  overload?: OverloadGuard;
  /** `GATEWAY_PUBLIC_URL`, the client certificate header and `GATEWAY_TRUSTED_PROXIES`, as on every other entry */
  sender: SenderOptions;
}

/** A listening ext_authz server. */
export interface ExtAuthzServer {
  port: number;
  close(): Promise<void>;
}

/** `envoy.service.auth.v3.Authorization`, loaded once from the `.proto` files. */
export function authorizationService(): ServiceDefinition {
  const definition = loadSync('envoy/service/auth/v3/external_auth.proto', {
    includeDirs: [PROTO_DIR],
    keepCase: true,
    longs: String,
    enums: String,
    defaults: false,
    oneofs: true,
  });
  const pkg = loadPackageDefinition(definition) as unknown as {
    envoy: { service: { auth: { v3: GrpcObject & { Authorization: { service: ServiceDefinition } } } } };
  };
  return pkg.envoy.service.auth.v3.Authorization.service;
}

/**
 * Serves Envoy's ext_authz v3 `Check` on plaintext HTTP/2 (DESIGN §14). Every answer is explicit:
 * a decision, or a 503 denial on any internal failure; a call Envoy cancelled or whose deadline
 * passed gets no allow (grpc-js answers it CANCELLED / DEADLINE_EXCEEDED, which Envoy denies).
 */
export async function startExtAuthzServer(
  deps: ExtAuthzDeps,
  host: string,
  port: number,
): Promise<ExtAuthzServer> {
  const server = new Server({
    // The attributes of one request and its body (bounded separately) — never more.
    'grpc.max_receive_message_length': deps.maxCheckBodyBytes * 2 + 1024 * 1024,
  });
  server.addService(authorizationService(), {
    Check: (
      call: ServerUnaryCall<EnvoyCheckRequest, EnvoyCheckResponse>,
      callback: sendUnaryData<EnvoyCheckResponse>,
    ) => {
      answer(deps, call).then(
        (response) => callback(null, response),
        () => callback(null, failure('the gateway hit an internal error; the request is denied')),
      );
    },
  });
  const bound = await new Promise<number>((resolve, reject) =>
    server.bindAsync(
      `${host.includes(':') ? `[${host}]` : host}:${port}`,
      ServerCredentials.createInsecure(),
      (err, p) => (err ? reject(err) : resolve(p)),
    ),
  );
  return {
    port: bound,
    close: () =>
      new Promise<void>((resolve) => {
        // Let in-flight checks answer, then cut whatever is left.
        const timer = setTimeout(() => server.forceShutdown(), 2000);
        server.tryShutdown(() => {
          clearTimeout(timer);
          resolve();
        });
      }),
  };
}

async function answer(
  deps: ExtAuthzDeps,
  call: ServerUnaryCall<EnvoyCheckRequest, EnvoyCheckResponse>,
): Promise<EnvoyCheckResponse> {
  if (deps.overload?.shed()) {
    deps.metrics.shed('ext_authz_grpc');
    deps.metrics.answered('ext_authz_grpc', 503);
    return failure(`the gateway is overloaded (${deps.overload.describe()}); retry shortly`);
  }
  const mapped = checkFromAttributes(call.request, {
    maxCheckBodyBytes: deps.maxCheckBodyBytes,
    sender: deps.sender,
    peerAddress: peerAddressOf(call),
  });
  if (isRefusal(mapped)) {
    deps.metrics.answered('ext_authz_grpc', mapped.status);
    const reply: CheckReply = {
      allow: false,
      status: mapped.status as CheckReply['status'],
      reason: mapped.reason,
    };
    return deniedResponse(denialOf(reply), mapped.reason);
  }
  const headers = mapped.check.headers ?? {};
  const requestId = requestIdOf(single(headers['x-request-id']));
  const started = performance.now();
  const reply = await deps.client.check(mapped.check, {
    requestId,
    traceparent: single(headers.traceparent),
    timeoutMs: Math.max(1, Math.min(deps.checkTimeoutMs, remainingMs(call))),
  });
  deps.metrics.checked(reply.status, (performance.now() - started) / 1000);
  deps.metrics.answered('ext_authz_grpc', reply.status);
  if (!reply.allow) return deniedResponse(denialOf(reply), reply.reason);
  const set = await allowedHeaders(reply, deps.assertion, {
    method: mapped.check.method,
    htu: requestHtu(mapped.check.origin, mapped.check.uri),
  });
  return allowResponse(set, mapped.identityLike);
}

/** The gRPC peer's IP address (grpc-js names it `address:port`, an IPv6 address unbracketed). */
function peerAddressOf(call: ServerUnaryCall<unknown, unknown>): string | undefined {
  const peer = call.getPeer();
  const colon = peer.lastIndexOf(':');
  return colon > 0 && /^\d+$/.test(peer.slice(colon + 1)) ? peer.slice(0, colon) : undefined;
}

/** Milliseconds left before the caller's gRPC deadline (Envoy's grpc_service.timeout). */
function remainingMs(call: ServerUnaryCall<unknown, unknown>): number {
  const deadline = call.getDeadline();
  const at = deadline instanceof Date ? deadline.getTime() : deadline;
  return Number.isFinite(at) ? at - Date.now() : Number.POSITIVE_INFINITY;
}

function failure(reason: string): EnvoyCheckResponse {
  return deniedResponse(denialOf({ allow: false, status: 503, reason }), reason);
}

function requestIdOf(given: string | undefined): string {
  return given && /^[\w.:-]{1,128}$/.test(given) ? given : randomUUID();
}

function single(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}
