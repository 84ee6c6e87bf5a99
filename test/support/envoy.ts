import { fileURLToPath } from 'node:url';
import {
  Client,
  credentials,
  type GrpcObject,
  loadPackageDefinition,
  type ServiceError,
} from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import protobuf from 'protobufjs';

/** The gateway's ext_authz `.proto` files (written from Envoy's published v3 API). */
export const ENVOY_PROTO_DIR = fileURLToPath(new URL('../../services/gateway/proto/', import.meta.url));

/** A CheckResponse as decoded by a client built from the same protos (defaults filled in). */
export interface DecodedCheckResponse {
  status: { code: number; message: string } | null;
  http_response?: 'ok_response' | 'denied_response';
  ok_response?: {
    headers: Array<{
      header: { key: string; value: string };
      append: { value: boolean } | null;
      append_action: string;
    }>;
    headers_to_remove: string[];
  };
  denied_response?: {
    status: { code: string | number };
    headers: Array<{ header: { key: string; value: string } }>;
    body: string;
  };
}

/** An Envoy-like ext_authz gRPC client: `check(request, deadlineMs)`. */
export interface ExtAuthzClient {
  check(request: unknown, deadlineMs?: number): Promise<DecodedCheckResponse>;
  /** Sends hand-encoded bytes to `Authorization/Check` and returns the raw answer bytes. */
  checkRaw(bytes: Uint8Array, deadlineMs?: number): Promise<Buffer>;
  close(): void;
}

/** A gRPC client of `envoy.service.auth.v3.Authorization` built from the gateway's protos. */
export function extAuthzClient(address: string): ExtAuthzClient {
  const definition = loadSync('envoy/service/auth/v3/external_auth.proto', {
    includeDirs: [ENVOY_PROTO_DIR],
    keepCase: true,
    longs: String,
    enums: String,
    defaults: true,
    oneofs: true,
  });
  const pkg = loadPackageDefinition(definition) as unknown as {
    envoy: { service: { auth: { v3: GrpcObject & { Authorization: new (...args: unknown[]) => Client } } } };
  };
  const client = new pkg.envoy.service.auth.v3.Authorization(
    address,
    credentials.createInsecure(),
  ) as Client & {
    Check(
      req: unknown,
      opts: { deadline: number },
      cb: (err: ServiceError | null, res: DecodedCheckResponse) => void,
    ): void;
  };
  const raw = new Client(address, credentials.createInsecure());
  return {
    check: (request, deadlineMs = 5000) =>
      new Promise((resolve, reject) =>
        client.Check(request, { deadline: Date.now() + deadlineMs }, (err, res) =>
          err ? reject(err) : resolve(res),
        ),
      ),
    checkRaw: (bytes, deadlineMs = 5000) =>
      new Promise((resolve, reject) =>
        raw.makeUnaryRequest<Buffer, Buffer>(
          '/envoy.service.auth.v3.Authorization/Check',
          (b) => b,
          (b) => b,
          Buffer.from(bytes),
          { deadline: Date.now() + deadlineMs },
          (err, res) => (err ? reject(err) : resolve(res!)),
        ),
      ),
    close: () => {
      client.close();
      raw.close();
    },
  };
}

/** Protobuf fields by number, as the wire has them: varints as numbers, length-delimited as bytes. */
export type WireFields = Map<number, Array<number | Buffer>>;

/** Decodes one message's fields by number alone (no schema): how a reader checks field numbers. */
export function decodeWire(bytes: Uint8Array): WireFields {
  const reader = protobuf.Reader.create(bytes);
  const fields: WireFields = new Map();
  while (reader.pos < reader.len) {
    const tag = reader.uint32();
    const field = tag >>> 3;
    const wireType = tag & 7;
    let value: number | Buffer;
    if (wireType === 0) value = reader.uint32();
    else if (wireType === 2) value = Buffer.from(reader.bytes());
    else {
      reader.skipType(wireType);
      continue;
    }
    fields.set(field, [...(fields.get(field) ?? []), value]);
  }
  return fields;
}

/** A protobuf writer for hand-encoding messages by field number (Envoy's published numbers). */
export const WireWriter = protobuf.Writer;
