// The gRPC floor: a bare grpc-js server of envoy.service.auth.v3.Authorization/Check, loaded
// from the gateway's own protos, answering every call with one fixed allow (the same three
// identity headers an allow carries). What is left between it and ext_authz_grpc is the gateway.
// argv: <port>
import { loadPackageDefinition, Server, ServerCredentials } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { ENVOY_PROTO_OPTIONS } from '../lib/ext-authz-protos.mjs';

const port = Number(process.argv[2]);
/** @type {any} the generated package tree (grpc-js types it loosely) */
const pkg = loadPackageDefinition(loadSync('envoy/service/auth/v3/external_auth.proto', ENVOY_PROTO_OPTIONS));
const header = (key, value) => ({
  header: { key, value },
  append: { value: false },
  append_action: 'OVERWRITE_IF_EXISTS_OR_ADD',
});
const allow = {
  status: { code: 0 },
  ok_response: {
    headers: [
      header('x-authz-user', 'bench'),
      header('x-authz-subject', 'bench'),
      header('x-authz-policy', 'zz-allow'),
    ],
    headers_to_remove: [],
  },
};
const server = new Server();
server.addService(pkg.envoy.service.auth.v3.Authorization.service, {
  Check: (_call, callback) => callback(null, allow),
});
server.bindAsync(`127.0.0.1:${port}`, ServerCredentials.createInsecure(), (err) => {
  if (err) throw err;
  process.stdout.write(`READY ${port}\n`);
});
const stop = () => server.tryShutdown(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
