// Port selection for the local runner: a preferred port when it is free, otherwise one the kernel
// picks. Every socket is held until all ports are chosen, so the ports are distinct.
import { createServer } from 'node:net';

/**
 * @typedef {object} PortRequest
 * @property {string} name        for error messages (`CONFIG_PORT`, `nats-1 cluster`)
 * @property {number} preferred   the port to use when free; 0 lets the kernel pick
 * @property {boolean} [required] the preferred port was asked for explicitly: busy is an error
 * @property {string} [host]      address the port will be bound on (default 127.0.0.1)
 */

function listen(port, host) {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen({ port, host, exclusive: true }, () => resolve(server));
  });
}

/**
 * Chooses one port per request.
 * @param {PortRequest[]} requests
 * @returns {Promise<number[]>}
 */
export async function choosePorts(requests) {
  const held = [];
  try {
    const ports = [];
    for (const { name, preferred, required = false, host = '127.0.0.1' } of requests) {
      let server;
      try {
        server = await listen(preferred, host);
      } catch (err) {
        if (required)
          throw new Error(
            `${name}: port ${preferred} on ${host} is not available (${err.code ?? err.message})`,
          );
        server = await listen(0, host);
      }
      held.push(server);
      ports.push(/** @type {import('node:net').AddressInfo} */ (server.address()).port);
    }
    return ports;
  } finally {
    await Promise.all(held.map((server) => new Promise((resolve) => server.close(() => resolve(undefined)))));
  }
}

/** Resolves once something accepts TCP connections on `host:port` (the harness's, for nats.mjs and redis.mjs). */
export { waitForTcp } from '../../packages/harness/dist/index.js';

/** The address to reach a server bound on `host` from this machine (wildcards become loopback). */
export function reachableHost(host) {
  if (host === '0.0.0.0' || host === '') return '127.0.0.1';
  if (host === '::' || host === '[::]') return '[::1]';
  return host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
}
