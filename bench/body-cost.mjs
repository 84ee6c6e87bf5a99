#!/usr/bin/env node
// CPU cost of a 16 KiB FHIR JSON body on the check path, in-process (issue 12): what the gateway
// does with a proxied POST's body before it publishes the check (strict read: UTF-8, duplicate
// keys, depth, JSON.parse; then the check message, the validated body text spliced in), and what
// the worker does with that message (parse, wire schema, canonical form, strictness again).
// The cluster benchmark's gateway_proxy_post_16k mixes this with sockets and a shared scheduler.
// usage: node bench/body-cost.mjs [--bytes=16384] [--n=3000] [--rounds=5]
import { checkMessage } from '../packages/client/dist/index.js';
import { readRequestBody } from '../packages/protocol/dist/index.js';
import { parseCheckRequest } from '../services/worker/dist/request.js';
import { observation } from './lib/fhir-bodies.mjs';

const arg = (name, fallback) =>
  Number(process.argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1] ?? fallback);
const n = arg('n', 3000);
const rounds = arg('rounds', 5);
const bytes = Buffer.from(JSON.stringify(observation(arg('bytes', 16 * 1024))));

const request = {
  method: 'POST',
  uri: '/fhir/Observation',
  headers: { 'content-type': 'application/fhir+json', authorization: `Bearer ${'t'.repeat(200)}` },
  remote_addr: '127.0.0.1',
  scheme: 'http',
};

/** The gateway's part: read the body strictly, build the check message. */
function gateway() {
  const view = readRequestBody(bytes, 'application/fhir+json', undefined, 'POST');
  if (view === undefined || !('json' in view)) throw new Error('the body was refused');
  return checkMessage({ ...request, body: view.json }, bytes);
}
const message = Buffer.from(gateway());
/** The worker's part: the message as it arrives from NATS. */
function worker() {
  const parsed = parseCheckRequest(message);
  if (typeof parsed === 'string' || !('request' in parsed)) throw new Error('the worker refused the message');
}

/** CPU µs per call (user + system), after a warm-up. */
function cpuUs(fn) {
  for (let i = 0; i < 500; i++) fn();
  const start = process.cpuUsage();
  for (let i = 0; i < n; i++) fn();
  const used = process.cpuUsage(start);
  return (used.user + used.system) / n;
}

const results = { gateway: [], worker: [] };
for (let r = 0; r < rounds; r++) {
  results.gateway.push(cpuUs(gateway));
  results.worker.push(cpuUs(worker));
}
const summary = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  return `best ${sorted[0].toFixed(1)} µs, median ${sorted[Math.floor(sorted.length / 2)].toFixed(1)} µs`;
};
process.stdout.write(
  `${bytes.length}-byte body, ${rounds} × ${n}\n` +
    `  gateway (strict read + check message): ${summary(results.gateway)}\n` +
    `  worker (parseCheckRequest):            ${summary(results.worker)}\n`,
);
