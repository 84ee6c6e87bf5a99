// The HTTP floor: a bare node:http server answering 200 with an empty body, keep-alive like the
// gateway. argv: <port>
import { createServer } from 'node:http';
import { serve } from './serve.mjs';

const port = Number(process.argv[2]);
const server = createServer((_req, res) => {
  res.writeHead(200, { 'content-length': '0' });
  res.end();
});
serve(server, port);
