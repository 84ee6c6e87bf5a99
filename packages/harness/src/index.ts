export { findBinary } from './binaries.js';
export { freePort, type WaitForTcpOptions, waitForTcp } from './ports.js';
export { onLines, spawnListening } from './spawn.js';
