import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { THROUGHPUT_SCENARIOS } from '../bench/lib/options.mjs';

// Issue 6: CI runs the benchmark's quick mode to see that it works — every scenario measured,
// every reply right, results.json in the DESIGN §9 shape — and never asserts a timing.

const root = fileURLToPath(new URL('../', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'authz-bench-smoke-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface CurveSide {
  sent: number;
  failed: number;
  timed_out: number;
  p99_us: number;
  p999_us: number;
}
interface CurveGroup {
  path: string;
  path_capacity_rps?: number;
  points: { fraction: number; past_own_capacity?: boolean; floor: CurveSide; path: CurveSide }[];
}

function runQuickBench(out: string): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(root, 'bench/run.mjs'), '--quick', `--out=${out}`], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d));
    child.stderr.on('data', (d: Buffer) => (output += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, output }));
  });
}

describe('npm run bench -- --quick', () => {
  it('measures every scenario with right replies and writes results in the DESIGN §9 shape', async () => {
    const out = join(dir, 'results.json');
    const { code, output } = await runQuickBench(out);
    expect(code, output.slice(-3000)).toBe(0);
    const results = JSON.parse(readFileSync(out, 'utf8'));
    expect(results.env).toMatchObject({ cpus: expect.any(Number), quick: true });
    expect(results.env.node).toBe(process.version);
    const floors = ['echo', 'policies_1', 'http_bare', 'proxied_read', 'grpc_echo'];
    // Every throughput scenario the bench knows runs in quick mode too.
    const measured = THROUGHPUT_SCENARIOS;
    expect(Object.keys(results.scenarios)).toEqual(measured);
    for (const name of measured) {
      const s = results.scenarios[name];
      const keys = name === 'echo' ? ['p50_us', 'p99_us', 'rps'] : ['p50_us', 'p99_us', 'ratio', 'rps'];
      // dpop_unique also reports µs per proof verification in-process.
      if (name === 'dpop_unique') keys.splice(2, 0, 'proof_verify_us');
      expect(Object.keys(s).sort(), name).toEqual(keys);
      expect(s.rps, name).toBeGreaterThan(0);
      if (name === 'dpop_unique') expect(s.proof_verify_us).toBeGreaterThan(0);
      expect(s.p99_us, name).toBeGreaterThanOrEqual(s.p50_us);
      if (floors.includes(name) && name !== 'echo') expect(s.ratio).toBe(1);
    }
    expect(results.config_propagation_ms.p99).toBeGreaterThanOrEqual(results.config_propagation_ms.p50);
    expect(results.cold_start_ms).toBeGreaterThan(0);
    expect(results.worker_rss_mib).toBeGreaterThan(0);
    expect(output).toContain('CPU µs/req');
    // Issue 19: open-loop curves for every path against its floor, the chart, the scale step.
    for (const group of Object.values(results.latency_curves) as CurveGroup[]) {
      const fractions = group.points.map((p) => p.fraction);
      const standard = [0.25, 0.5, 0.75, 0.9, 1.1];
      expect(fractions.filter((f) => standard.includes(f))).toEqual(standard);
      expect(fractions).toEqual([...fractions].sort((x, y) => x - y));
      // The proxy curve has one more point, at 110 % of the proxy's own capacity (it may coincide
      // with a standard one); the others have none.
      const own = group.points.filter((p) => p.past_own_capacity);
      const extra = fractions.filter((f) => !standard.includes(f));
      if (group.path === 'gateway_proxy') {
        expect(group.path_capacity_rps).toBeGreaterThan(0);
        expect(own).toHaveLength(1);
        expect(extra.length).toBeLessThanOrEqual(1);
      } else {
        expect(own).toHaveLength(0);
        expect(extra).toEqual([]);
      }
      for (const point of group.points) {
        for (const side of [point.floor, point.path]) {
          expect(side.sent).toBeGreaterThan(0);
          expect(side.failed + side.timed_out, JSON.stringify(side)).toBe(0);
          expect(side.p999_us).toBeGreaterThanOrEqual(side.p99_us);
        }
      }
    }
    expect(Object.keys(results.latency_curves)).toEqual(['nats', 'http', 'grpc']);
    const svg = readFileSync(join(dir, 'latency.svg'), 'utf8');
    expect(svg).toMatch(/^<svg[^>]*xmlns="http:\/\/www.w3.org\/2000\/svg"/);
    expect(svg).toContain('jwt_cached vs echo');
    expect(svg).toContain('gateway_proxy vs http_bare');
    expect(svg).toContain('ext_authz_grpc vs grpc_echo');
    expect(results.scale.one_worker.rps).toBeGreaterThan(0);
    expect(results.scale.two_workers_one_core.predicted_rps).toBeGreaterThan(0);
  }, 300_000);
});
