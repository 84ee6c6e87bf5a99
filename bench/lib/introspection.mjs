// A tiny RFC 7662 introspection endpoint on 127.0.0.1 (the TypeScript one in test/support needs a
// TS runner). Only the token it was given is active.
import { timingSafeEqual } from 'node:crypto';
import { createServer } from 'node:http';

/** Starts the endpoint; `calls` counts introspection requests (the cached scenario expects ~1). */
export async function startIntrospection({ token, response, authorization }) {
  const expected = Buffer.from(authorization);
  const state = { calls: 0 };
  const server = createServer((req, res) => {
    const chunks = [];
    let size = 0;
    req.on('data', (chunk) => {
      size += chunk.length;
      if (size > 64 * 1024) req.destroy();
      else chunks.push(chunk);
    });
    req.on('end', () => {
      state.calls++;
      const given = Buffer.from(req.headers.authorization ?? '');
      if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
        return send(res, 401, { error: 'invalid_client' });
      }
      const presented = new URLSearchParams(Buffer.concat(chunks).toString('utf8')).get('token');
      send(res, 200, presented === token ? response : { active: false });
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(undefined)));
  const { port } = /** @type {import('node:net').AddressInfo} */ (server.address());
  return {
    url: `http://127.0.0.1:${port}/introspect`,
    authorization,
    state,
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

function send(res, status, body) {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}
