import { buildRequestContext, partialityOf } from '@authz/policy';
import { type CheckRequest, parseRequestTarget, subjects } from '@authz/protocol';
import type { NatsConnection } from '@nats-io/transport-node';
import { DIFF_ID_HEADER, type Generated, generate, rng } from './differential-generator.js';
import { type Received, type RecordingUpstream, sendRaw } from './integrity-cluster.js';

// The comparison of the differential tests (DESIGN §10): for each generated request an upstream
// received, what differs between it and the check the worker decided on — read as the upstream
// and other parsers read it. Shared by the gateway's proxy mode (differential.test.ts) and
// forward-auth behind real nginx and Caddy (differential-proxies.test.ts).

/** The path as an upstream that normalises it reads it: WHATWG URL resolution, then decoding. */
function upstreamPath(url: string): string {
  const pathname = new URL(url, 'http://upstream.example').pathname;
  return pathname
    .split('/')
    .map((s) => decodeURIComponent(s))
    .join('/');
}

/** The query as another parser reads it (URLSearchParams), empty names and values dropped. */
function upstreamParams(url: string): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  const q = url.indexOf('?');
  for (const [name, value] of new URLSearchParams(q < 0 ? '' : url.slice(q + 1))) {
    if (name === '' || value === '') continue;
    const prior = Object.hasOwn(out, name) ? out[name] : undefined;
    out[name] = prior === undefined ? value : [prior, value].flat();
  }
  return out;
}

/**
 * Whether an upstream that reads form fields as parameters (servlet containers for a POST, Ring for
 * any method) reads this request's body so: a form Content-Type. Its fields are then parameters.
 */
function readsForm(got: { method: string; headers: Record<string, unknown> }): boolean {
  const type = String(got.headers['content-type'] ?? '').toLowerCase();
  return /^\s*(application\/x-www-form-urlencoded|multipart\/form-data)\s*(;|$)/.test(type);
}

/** The parameters of the query and then the form body, as URLSearchParams reads both. */
function upstreamFormParams(url: string, body: Buffer): Record<string, string | string[]> {
  const out = upstreamParams(url);
  for (const [name, value] of new URLSearchParams(body.toString('utf8'))) {
    if (name === '' || value === '') continue;
    const prior = Object.hasOwn(out, name) ? out[name] : undefined;
    out[name] = prior === undefined ? value : [prior, value].flat();
  }
  return out;
}

/** The context's `params` without the route parameters, the way upstreamParams lists them. */
function contextParams(params: unknown): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries((params ?? {}) as Record<string, string | string[]>)) {
    if (!name.startsWith('resource/')) out[name] = value;
  }
  return nonEmpty(out);
}

function nonEmpty(params: Record<string, string | string[]>): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(params)) {
    const kept = Array.isArray(value) ? value.filter((v) => v !== '') : value;
    if (kept === '' || (Array.isArray(kept) && kept.length === 0)) continue;
    out[name] = Array.isArray(kept) && kept.length === 1 ? (kept[0] as string) : kept;
  }
  return out;
}

/**
 * A form-reading upstream's parameters against the context the worker built from the check: the
 * same, or the context's `params` partial (no policy allows by them). Counted in `tally`.
 */
function formProblems(check: CheckRequest, got: Received, tally: FormTally): (string | false)[] {
  if (!readsForm(got) || got.body.length === 0) return [];
  const context = buildRequestContext(check);
  if (partialityOf(context.params) !== undefined) {
    tally.partial++;
    return [check.body_form !== undefined && 'a form shown as body_form left params partial'];
  }
  tally.compared++;
  const upstream = upstreamFormParams(got.url, got.body);
  const seen = contextParams(context.params);
  return [
    check.body_form === undefined && 'a form body reached the upstream, params neither showed nor marked it',
    JSON.stringify(upstream) !== JSON.stringify(seen) &&
      `URLSearchParams reads query and form as ${JSON.stringify(upstream)}, the policy saw ${JSON.stringify(seen)}`,
  ];
}
/** Form bodies that reached an upstream: compared field by field, or with `params` partial. */
export interface FormTally {
  compared: number;
  partial: number;
}

/** Values the generator forges into identity headers; none may reach an upstream. */
const FORGED_IDENTITY = new Set(['admin', 'forged', 'root']);

/**
 * What differs between the request an upstream received and the check the worker decided on:
 * method, target, the path a normalising upstream reads, the parameters another parser reads
 * (with form fields, for a form-reading upstream), Authorization, body bytes, and the identity
 * and forwarding headers a client may not choose. Empty when they agree.
 */
export function deliveredProblems(check: CheckRequest, got: Received, tally: FormTally): string[] {
  const target = parseRequestTarget(check.uri);
  const forwardedFor = String(got.headers['x-forwarded-for'] ?? '');
  return [
    got.method !== check.method && `method ${got.method} ≠ ${check.method}`,
    got.url !== check.uri && `target ${got.url} ≠ ${check.uri}`,
    'refused' in target && `a refused target was checked: ${target.reason}`,
    !('refused' in target) &&
      upstreamPath(got.url) !== target.path &&
      `a normalising upstream reads ${upstreamPath(got.url)}, the policy saw ${target.path}`,
    !('refused' in target) &&
      JSON.stringify(upstreamParams(got.url)) !== JSON.stringify(nonEmpty(target.params)) &&
      `URLSearchParams reads ${JSON.stringify(upstreamParams(got.url))}, the policy saw ${JSON.stringify(target.params)}`,
    got.headers.authorization !== (check.headers as Record<string, unknown>)?.authorization &&
      'Authorization differs',
    got.rawHeaders.some((h, i) => i % 2 === 0 && /^x[-_]authz[-_]/i.test(h) && h.includes('_')) &&
      'a client-spelled x-authz header reached the upstream',
    got.rawHeaders.some(
      (h, i) => i % 2 === 0 && /^x-authz-/i.test(h) && FORGED_IDENTITY.has(String(got.rawHeaders[i + 1])),
    ) && 'a client-chosen x-authz value reached the upstream',
    check.body === null &&
      got.body.length > 0 &&
      got.body.toString('utf8').trim() !== 'null' &&
      'a body reached the upstream that the check called empty',
    check.body !== undefined &&
      check.body !== null &&
      JSON.stringify(JSON.parse(got.body.toString('utf8'))) !== JSON.stringify(check.body) &&
      'the body differs from the one checked',
    check.body === undefined &&
      check.body_unavailable === undefined &&
      check.body_form === undefined &&
      got.body.length > 0 &&
      'a body reached the upstream that the check neither showed nor marked unavailable',
    check.body_form !== undefined &&
      got.body.toString('utf8') !== check.body_form &&
      'the form body differs from the one checked',
    ...formProblems(check, got, tally),
    got.headers['x-http-method-override'] !== undefined && 'a method override reached the upstream',
    got.rawHeaders.some((h, i) => i % 2 === 0 && /^x[-_](original|rewrite)[-_]url$/i.test(h)) &&
      'a target override reached the upstream',
    got.headers['x-forwarded-proto'] !== 'http' && 'an untrusted X-Forwarded-Proto reached the upstream',
    got.headers['x-real-ip'] !== undefined &&
      got.headers['x-real-ip'] !== '127.0.0.1' &&
      'an untrusted X-Real-IP reached the upstream',
    got.headers.forwarded !== undefined && 'an untrusted Forwarded reached the upstream',
    forwardedFor.includes('203.0.113.9') && 'an untrusted X-Forwarded-For hop reached the upstream',
  ].filter((p): p is string => typeof p === 'string');
}

/** What one differential run found. */
export interface DifferentialRun {
  elapsedMs: number;
  /** requests the upstream received */
  reached: number;
  mismatches: string[];
  tally: FormTally;
}

/**
 * Sends `count` generated requests (seeded) to `baseUrl`, 8 at a time, then holds every request
 * the upstream received against the check the worker decided on for it (`checks`, keyed by the
 * request's X-Diff-Id): a request answered 200 must have reached the upstream as checked, any
 * other must not have reached it at all.
 */
export async function runDifferential(options: {
  baseUrl: string;
  upstream: RecordingUpstream;
  checks: Map<string, CheckRequest>;
  count: number;
  seed: number;
}): Promise<DifferentialRun> {
  const { upstream, checks } = options;
  const random = rng(options.seed);
  const generated = Array.from({ length: options.count }, (_, i) => generate(random, options.seed, i));
  const statuses = new Map<string, number>();
  upstream.received.length = 0;
  let next = 0;
  const started = Date.now();
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      while (next < generated.length) {
        const g = generated[next++] as Generated;
        const res = await sendRaw(options.baseUrl, g.request).catch(() => ({ status: 0 }));
        statuses.set(g.id, res.status);
      }
    }),
  );
  const elapsedMs = Date.now() - started;
  const tally: FormTally = { compared: 0, partial: 0 };
  const mismatches: string[] = [];
  const byId = new Map(upstream.received.map((r) => [String(r.headers[DIFF_ID_HEADER.toLowerCase()]), r]));
  for (const g of generated) {
    const status = statuses.get(g.id);
    const got = byId.get(g.id);
    // A 200 nothing checked and nothing forwarded is a proxy's own answer (Caddy's empty 200 for
    // an absolute-form target naming another site): not a request that passed.
    if (status === 200 && got === undefined && checks.has(g.id))
      mismatches.push(`${g.id} ${g.request.method} ${g.request.path}: 200 but the upstream never saw it`);
    if (got === undefined) continue;
    if (status !== 200) mismatches.push(`${g.id}: answered ${status} but reached the upstream`);
    const check = checks.get(g.id);
    if (check === undefined) {
      mismatches.push(`${g.id}: reached the upstream without a check`);
      continue;
    }
    for (const p of deliveredProblems(check, got, tally))
      mismatches.push(`${g.id} ${g.request.method} ${g.request.path}: ${p}`);
  }
  return { elapsedMs, reached: upstream.received.length, mismatches, tally };
}

/** Every check request a worker answers, keyed by X-Diff-Id: a plain (non-queue) subscriber gets a copy. */
export function tapChecks(nc: NatsConnection): Map<string, CheckRequest> {
  const checks = new Map<string, CheckRequest>();
  nc.subscribe(subjects().check, {
    callback: (_err, msg) => {
      const check = msg.json<CheckRequest>();
      const id = (check.headers as Record<string, unknown> | undefined)?.[DIFF_ID_HEADER.toLowerCase()];
      if (typeof id === 'string') checks.set(id, check);
    },
  });
  return checks;
}
