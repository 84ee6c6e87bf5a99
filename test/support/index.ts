export {
  type IntrospectionFailureMode,
  type IntrospectionRequestRecord,
  type IntrospectionServer,
  type IntrospectionServerOptions,
  startIntrospectionServer,
} from './introspection-server.js';
export { freePort, waitForPort } from './ports.js';
export { dockerAvailable, startNats, startRedis, type TestServer } from './servers.js';
export { type ServiceName, type ServiceProcess, startService } from './services.js';
export { type ClusterOptions, startCluster, type TestCluster } from './cluster.js';
