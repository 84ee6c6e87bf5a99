export {
  ASSERTION_HEADER,
  type AssertionSigner,
  allowedHeaders,
  loadAssertionSigner,
  readAssertionKey,
} from './assertion.js';
export { checkFromAttributes, type EnvoyCheckRequest } from './envoy/attributes.js';
export { allowResponse, deniedResponse, grpcCodeOf } from './envoy/check-response.js';
export { authorizationService, PROTO_DIR, startExtAuthzServer } from './envoy/grpc-server.js';
export { forwardedCheck } from './forward-auth.js';
export { createGatewayServer, type GatewayDeps, RESERVED_PREFIX } from './gateway.js';
export { type InboundRequest, readProxiedRequest } from './inbound.js';
export { type AddressedFacts, clientOrigin, requestHtu } from './origin.js';
export { bearerChallenge, denialOf, IDENTITY_HEADERS, identityHeaders } from './responses.js';
