// HTTP load from its own process (autocannon): an optional warm-up, then a fixed number of
// requests at a fixed number of keep-alive connections. Latencies are taken from autocannon's
// per-response event in microseconds (its own histogram keeps whole milliseconds).
// argv: <json {url, headers, connections, amount, warmup, method?, body?}>; prints one line `RESULT <json>` with
// the histogram compressed (base64) so the parent can merge rounds.
import autocannon from 'autocannon';
import * as hdr from 'hdr-histogram-js';
import { latencyHistogram, recordMs } from '../lib/histogram.mjs';
import { monotonicUs } from '../lib/nats-load.mjs';

const { url, headers, connections, amount, warmup, method, body } = JSON.parse(process.argv[2]);

/** When the last response of the current run arrived (performance.now()). */
let lastResponse = 0;

function run(count, histogram) {
  return new Promise((resolve, reject) => {
    const instance = autocannon(
      { url, headers, method: method ?? 'GET', body, connections, amount: count, pipelining: 1 },
      (err, result) => (err ? reject(err) : resolve(result)),
    );
    instance.on('response', (_client, _status, _bytes, ms) => {
      lastResponse = performance.now();
      if (histogram) recordMs(histogram, ms);
    });
  });
}

if (warmup > 0) await run(warmup);
const histogram = latencyHistogram();
const windowStart = monotonicUs();
const started = performance.now();
const result = await run(amount, histogram);
// Up to the last response, not the callback: autocannon reports the end of an `amount` run on its
// next one-second tick, which rounded every slice up to whole seconds (ratios moved in steps).
const elapsedMs = (lastResponse > started ? lastResponse : performance.now()) - started;
const ok = result['2xx'];
const failures = result.requests.total - ok + result.errors + result.timeouts;
process.stdout.write(
  `RESULT ${JSON.stringify({
    count: result.requests.total,
    elapsedMs,
    failures,
    firstFailure:
      failures === 0
        ? undefined
        : `non-2xx ${result.non2xx}, errors ${result.errors}, timeouts ${result.timeouts}`,
    window: [windowStart, monotonicUs()],
    histogram: hdr.encodeIntoCompressedBase64(histogram),
  })}\n`,
);
