// Where the bench finds the gateway's ext_authz protos, and how it loads them (as the gateway does).
import { join } from 'node:path';
import { root } from './procs.mjs';

/** @grpc/proto-loader options: proto field names, the gateway's own proto directory. */
export const ENVOY_PROTO_OPTIONS = {
  includeDirs: [join(root, 'services', 'gateway', 'proto')],
  keepCase: true,
  longs: String,
  enums: String,
  defaults: false,
  oneofs: true,
};
