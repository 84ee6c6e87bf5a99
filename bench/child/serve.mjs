// How every bench HTTP child listens: keep-alive like the gateway, READY <port> on stdout once
// listening, a clean exit on SIGTERM/SIGINT.
/** @param {import('node:http').Server} server @param {number} port */
export function serve(server, port) {
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
  server.listen(port, '127.0.0.1', () => process.stdout.write(`READY ${port}\n`));
  const stop = () => {
    server.close(() => process.exit(0));
    server.closeAllConnections();
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}
