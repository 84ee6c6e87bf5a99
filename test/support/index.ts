export * from './aidbox-examples.js';
export { ensureCaddy, readmeCaddyfile, startCaddy, type TestCaddy } from './caddy.js';
export { type ClusterOptions, startCluster, type TestCluster } from './cluster.js';
export {
  type FhirUpstream,
  r4Observation,
  startFhirUpstream,
  UPSTREAM_RESOURCES,
  type UpstreamRecord,
} from './fhir-upstream.js';
export {
  encodeSegment,
  forgeJwt,
  generateSigningKey,
  type MintOptions,
  mintJwt,
  type SigningAlg,
  type SigningKey,
  signCompact,
  startIdp,
  type TestIdp,
} from './idp.js';
export {
  type IntrospectionFailureMode,
  type IntrospectionRequestRecord,
  type IntrospectionServer,
  type IntrospectionServerOptions,
  startIntrospectionServer,
} from './introspection-server.js';
export { startNatsCluster, type TestNatsCluster, type TestNatsNode } from './nats-cluster.js';
export { ensureNginx, infraNginxConf, startNginx, type TestNginx } from './nginx.js';
export { freePort, waitForPort } from './ports.js';
export { hsReaders } from './resources.js';
export * from './seed.js';
export { dockerAvailable, startNats, startRedis, type TestServer } from './servers.js';
export { type ServiceName, type ServiceProcess, startService } from './services.js';
