// The HTTP floor: a bare node:http server answering 200 with an empty body, keep-alive like the
// gateway. argv: <port>
import { createServer } from 'node:http';

const port = Number(process.argv[2]);
const server = createServer((_req, res) => {
  res.writeHead(200, { 'content-length': '0' });
  res.end();
});
server.keepAliveTimeout = 65_000;
server.headersTimeout = 66_000;
server.listen(port, '127.0.0.1', () => process.stdout.write(`READY ${port}\n`));
const stop = () => {
  server.close(() => process.exit(0));
  server.closeAllConnections();
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
