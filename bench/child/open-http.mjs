// Open-loop HTTP load from its own process (issue 19): requests at fixed arrival rates, latency
// from each request's intended send time (lib/open-loop.mjs). undici's pool keeps up to
// `connections` keep-alive connections and queues beyond them, as a proxy in front would.
// argv: <json {url, headers, connections, rates: number[], durationMs, warmupMs}>; prints one
// line `RESULT <json>` with one OpenLoopResult per rate, in order.
import { Pool } from 'undici';
import { openLoop } from '../lib/open-loop.mjs';

const { url, headers, connections, rates, durationMs, warmupMs } = JSON.parse(process.argv[2]);
const target = new URL(url);
const pool = new Pool(target.origin, { connections, pipelining: 1, keepAliveTimeout: 60_000 });
const path = `${target.pathname}${target.search}`;

/** @returns {Promise<import('../lib/open-loop.mjs').Outcome>} */
async function send() {
  const res = await pool.request({ method: 'GET', path, headers, headersTimeout: 10_000 });
  await res.body.dump();
  if (res.statusCode === 200) return 'ok';
  if (res.statusCode === 503) return 'shed';
  return `status ${res.statusCode}`;
}

// Connections, JIT and the server's own warm-up at the lowest rate, unrecorded.
if (warmupMs > 0) await openLoop({ send, rate: rates[0], durationMs: warmupMs });
const results = [];
for (const rate of rates) results.push(await openLoop({ send, rate, durationMs }));
await pool.close();
process.stdout.write(`RESULT ${JSON.stringify(results)}\n`);
