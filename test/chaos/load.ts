import { Agent, request } from 'node:http';

/** What a request must get when nothing is broken: an allow (200) or a specific denial. */
export type Expected = 200 | 401 | 403;

/** One kind of request in the mix, with the answer it must get. */
export interface LoadCase {
  readonly name: string;
  readonly expect: Expected;
  readonly method: 'GET' | 'DELETE';
  readonly path: string;
  /** Authorization header value; a pool rotates so the workers' caches see several tokens. */
  readonly authorization: () => string | undefined;
}

/** Where load goes: a gateway proxying to an upstream, or its nginx-style forward-auth endpoint. */
export interface LoadTarget {
  readonly url: string;
  readonly mode: 'proxy' | 'forward';
}

/** Outcome of one request. */
export interface Sample {
  readonly at: number;
  readonly case: string;
  readonly expect: Expected;
  /** HTTP status, or 0 when no response came before the client deadline (or the socket failed). */
  readonly status: number;
  readonly ms: number;
  readonly error?: string;
}

/** Counts over a set of samples. */
export interface LoadStats {
  sent: number;
  answered: number;
  /** a 2xx for a request that must be denied */
  wrongAllow: number;
  /** a 401/403 for a request that must be allowed, or a deny with the wrong status (503 aside) */
  wrongStatus: number;
  unanswered: number;
  unavailable: number;
  allowed: number;
  /** answers that took over 500 ms (a check retried after a lost first attempt, typically) */
  slow: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  /** a few of the wrong answers and failures, for the failure message */
  examples: string[];
}

/** Options of {@link startLoad}. */
export interface LoadOptions {
  targets: readonly LoadTarget[];
  cases: readonly LoadCase[];
  /** total requests per second across every loop */
  rps: number;
  /** concurrent request loops */
  concurrency: number;
  /** the client gives up on a request after this long (counts as unanswered) */
  deadlineMs: number;
  /** header telling the upstream what a request expects, so it can count denials it received */
  expectHeader?: string;
}

/** A running load; {@link RunningLoad.stop} lets in-flight requests finish and returns every sample. */
export interface RunningLoad {
  readonly startedAt: number;
  /** samples so far */
  readonly samples: readonly Sample[];
  stop(): Promise<Sample[]>;
}

/**
 * Starts steady load: `concurrency` loops, each paced so the total is about `rps`; request `i`
 * goes to target `i mod targets` with case `i mod cases`, so every gateway sees every case.
 * HTTP/1.1 keep-alive through node:http (cheap enough to leave the CPU to the cluster).
 *
 * @example
 * const load = startLoad({ targets, cases, rps: 150, concurrency: 12, deadlineMs: 3000 });
 * await sleep(3000); await fault(); await sleep(5000);
 * const stats = summarize(await load.stop());
 */
export function startLoad(options: LoadOptions): RunningLoad {
  const agent = new Agent({ keepAlive: true, maxSockets: options.concurrency * 2 });
  const samples: Sample[] = [];
  const startedAt = Date.now();
  const intervalMs = (1000 * options.concurrency) / options.rps;
  let next = 0;
  let stopped = false;

  const loop = async (offset: number) => {
    let due = startedAt + offset;
    while (!stopped) {
      const wait = due - Date.now();
      if (wait > 0) await sleep(wait);
      if (stopped) break;
      const i = next++;
      const target = options.targets[i % options.targets.length]!;
      const c = options.cases[Math.floor(i / options.targets.length) % options.cases.length]!;
      samples.push(await send(agent, target, c, options));
      // Behind schedule (a slow answer) → go on at once, but never burst to catch up.
      due = Math.max(due + intervalMs, Date.now());
    }
  };
  const loops = Array.from({ length: options.concurrency }, (_, k) =>
    loop((k * intervalMs) / options.concurrency),
  );
  return {
    startedAt,
    samples,
    stop: async () => {
      stopped = true;
      await Promise.all(loops);
      agent.destroy();
      return samples;
    },
  };
}

function send(agent: Agent, target: LoadTarget, c: LoadCase, options: LoadOptions): Promise<Sample> {
  const started = performance.now();
  const at = Date.now();
  const headers: Record<string, string> = {};
  const authorization = c.authorization();
  if (authorization !== undefined) headers.authorization = authorization;
  if (options.expectHeader) headers[options.expectHeader] = String(c.expect);
  let path = c.path;
  let method: string = c.method;
  if (target.mode === 'forward') {
    headers['x-original-method'] = c.method;
    headers['x-original-uri'] = c.path;
    path = '/_authz/forward';
    method = 'GET';
  }
  return new Promise((resolve) => {
    let settled = false;
    const done = (status: number, error?: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve({ at, case: c.name, expect: c.expect, status, ms: performance.now() - started, error });
    };
    const req = request(`${target.url}${path}`, { method, headers, agent }, (res) => {
      // A 503 says why (OperationOutcome diagnostics): keep it for the failure message.
      let body = '';
      if (res.statusCode === 503) res.on('data', (d: Buffer) => (body = (body + d.toString()).slice(0, 300)));
      else res.resume();
      res.once('end', () => done(res.statusCode ?? 0, body || undefined));
      res.once('error', (err) => done(0, err.message));
    });
    const timer = setTimeout(() => {
      done(0, `no response within ${options.deadlineMs} ms`);
      req.destroy();
    }, options.deadlineMs);
    req.once('error', (err) => done(0, err.message));
    req.end();
  });
}

/** Counts `samples` (optionally only those sent at or after `since`, a Date.now() value). */
export function summarize(samples: readonly Sample[], since = 0): LoadStats {
  const chosen = samples.filter((s) => s.at >= since);
  const stats: LoadStats = {
    sent: chosen.length,
    answered: 0,
    wrongAllow: 0,
    wrongStatus: 0,
    unanswered: 0,
    unavailable: 0,
    allowed: 0,
    slow: 0,
    p50Ms: 0,
    p99Ms: 0,
    maxMs: 0,
    examples: [],
  };
  const note = (s: Sample, what: string) => {
    if (stats.examples.length < 8)
      stats.examples.push(`${what}: ${s.case} → ${s.status}${s.error ? ` (${s.error})` : ''}`);
  };
  for (const s of chosen) {
    if (s.status === 0) {
      stats.unanswered++;
      note(s, 'unanswered');
      continue;
    }
    stats.answered++;
    if (s.ms > 500) stats.slow++;
    if (s.status === 503) {
      stats.unavailable++;
      note(s, '503');
    }
    if (s.status >= 200 && s.status < 300) {
      stats.allowed++;
      if (s.expect !== 200) {
        stats.wrongAllow++;
        note(s, 'WRONG ALLOW');
      }
    } else if (s.status !== 503 && s.status !== s.expect) {
      stats.wrongStatus++;
      note(s, `expected ${s.expect}`);
    }
  }
  const latencies = chosen
    .filter((s) => s.status !== 0)
    .map((s) => s.ms)
    .sort((a, b) => a - b);
  const pick = (q: number) =>
    latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? 0;
  stats.p50Ms = pick(0.5);
  stats.p99Ms = pick(0.99);
  stats.maxMs = latencies.at(-1) ?? 0;
  return stats;
}

/** The one-line summary printed per fault. */
export function formatStats(label: string, stats: LoadStats, extra = ''): string {
  return (
    `chaos[${label}] sent=${stats.sent} answered=${stats.answered} wrong_allow=${stats.wrongAllow} ` +
    `wrong_status=${stats.wrongStatus} unanswered=${stats.unanswered} 503=${stats.unavailable} ` +
    `allowed=${stats.allowed} slow>500ms=${stats.slow} p50=${stats.p50Ms.toFixed(1)}ms p99=${stats.p99Ms.toFixed(1)}ms ` +
    `max=${stats.maxMs.toFixed(0)}ms${extra ? ` ${extra}` : ''}`
  );
}

/** Resolves after `ms`. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
