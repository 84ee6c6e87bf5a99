import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

// Issue 6: CI runs the benchmark's quick mode to see that it works — every scenario measured,
// every reply right, results.json in the DESIGN §9 shape — and never asserts a timing.

const root = fileURLToPath(new URL('../', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'authz-bench-smoke-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

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
    const floors = ['echo', 'policies_1', 'http_bare'];
    const measured = [
      'echo',
      'jwt_cached',
      'jwt_hs256_unique',
      'jwt_rs256_unique',
      'jwt_es256_unique',
      'opaque_cached',
      'policies_1',
      'policies_100',
      'policies_10000',
      'http_bare',
      'gateway_forward',
    ];
    expect(Object.keys(results.scenarios)).toEqual(measured);
    for (const name of measured) {
      const s = results.scenarios[name];
      expect(Object.keys(s).sort(), name).toEqual(
        name === 'echo' ? ['p50_us', 'p99_us', 'rps'] : ['p50_us', 'p99_us', 'ratio', 'rps'],
      );
      expect(s.rps, name).toBeGreaterThan(0);
      expect(s.p99_us, name).toBeGreaterThanOrEqual(s.p50_us);
      if (floors.includes(name) && name !== 'echo') expect(s.ratio).toBe(1);
    }
    expect(results.config_propagation_ms.p99).toBeGreaterThanOrEqual(results.config_propagation_ms.p50);
    expect(results.cold_start_ms).toBeGreaterThan(0);
    expect(results.worker_rss_mib).toBeGreaterThan(0);
    expect(output).toContain('CPU µs/req');
  }, 300_000);
});
