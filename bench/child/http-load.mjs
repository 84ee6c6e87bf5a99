// HTTP load from its own process (autocannon): a warm-up run, then a fixed number of requests at
// a fixed number of keep-alive connections. Latencies are taken from autocannon's per-response
// event in microseconds (its own histogram keeps whole milliseconds).
// argv: <json {url, headers, connections, amount, warmup}>; prints one line `RESULT <json>`.
import autocannon from 'autocannon';
import { latencyHistogram, percentiles, recordMs } from '../lib/histogram.mjs';
import { monotonicUs } from '../lib/nats-load.mjs';

const { url, headers, connections, amount, warmup } = JSON.parse(process.argv[2]);

function run(count, histogram) {
  return new Promise((resolve, reject) => {
    const instance = autocannon({ url, headers, connections, amount: count, pipelining: 1 }, (err, result) =>
      err ? reject(err) : resolve(result),
    );
    if (histogram) instance.on('response', (_client, _status, _bytes, ms) => recordMs(histogram, ms));
  });
}

if (warmup > 0) await run(warmup);
const histogram = latencyHistogram();
const windowStart = monotonicUs();
const started = performance.now();
const result = await run(amount, histogram);
const elapsedMs = performance.now() - started;
const window = [windowStart, monotonicUs()];
const ok = result['2xx'];
process.stdout.write(
  `RESULT ${JSON.stringify({
    rps: Math.round((result.requests.total / elapsedMs) * 1000),
    ...percentiles(histogram),
    count: result.requests.total,
    window,
    failures: result.requests.total - ok + result.errors + result.timeouts,
    firstFailure:
      ok === result.requests.total ? undefined : `non-2xx ${result.non2xx}, errors ${result.errors}`,
  })}\n`,
);
