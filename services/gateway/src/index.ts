export { forwardedCheck, proxiedCheck, requestHeaders } from './check-request.js';
export { createGatewayServer, type GatewayDeps, RESERVED_PREFIX } from './gateway.js';
export { bearerChallenge, IDENTITY_HEADERS, identityHeaders } from './responses.js';
