import { execFile } from 'node:child_process';
import { cp, mkdtemp, readFile, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigClient, executePlan, planApply, type ResourceDoc } from '@authz/cli';
import {
  freePort,
  startCluster,
  startNats,
  startService,
  type TestCluster,
  type TestServer,
} from '@authz/test-support';
import { Kvm } from '@nats-io/kv';
import { connect } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// DESIGN §14 "Configuration as code": the built `authz` CLI against a running cluster, and its
// offline policy tests. Fixtures: test/cli/policies (the seed's resources and the Aidbox docs
// policies of test/opaque-and-policies.test.ts, with their test suites).

const root = fileURLToPath(new URL('../', import.meta.url));
const CLI = join(root, 'packages/cli/dist/main.js');
const FIXTURES = join(root, 'test/cli/policies');

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function authz(args: string[], env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [CLI, ...args],
      { cwd: root, env: { PATH: process.env.PATH, ...env }, timeout: 60_000 },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

const EXPECTED = [
  'AccessPolicy/admins',
  'AccessPolicy/auditor-complex',
  'AccessPolicy/external-auth-server',
  'AccessPolicy/own-practitioner',
  'AccessPolicy/read-only-patients',
  'Role/admin-carol',
  'TokenIntrospector/external-auth-server',
  'User/carol',
  'User/some-user-id',
];

describe('authz CLI against a running cluster', () => {
  let cluster: TestCluster;
  let empty: TestCluster | undefined;
  let work: string;
  let env: Record<string, string>;

  beforeAll(async () => {
    cluster = await startCluster({ workers: 0, gateway: false });
    env = { AUTHZ_CONFIG_URL: cluster.configUrl, AUTHZ_ADMIN_PASSWORD: cluster.adminPassword };
    work = await mkdtemp(join(tmpdir(), 'authz-cli-'));
    await cp(FIXTURES, join(work, 'policies'), { recursive: true });
  });
  afterAll(async () => {
    await Promise.all([cluster?.stop(), empty?.stop()]);
    if (work) await rm(work, { recursive: true, force: true });
  });

  async function stored(c: TestCluster = cluster): Promise<string[]> {
    const out: string[] = [];
    for (const type of ['AccessPolicy', 'Role', 'TokenIntrospector', 'User', 'Client']) {
      const body = (await (await c.admin('GET', `/${type}`)).json()) as {
        entry: Array<{ resource: { id: string } }>;
      };
      for (const e of body.entry) out.push(`${type}/${e.resource.id}`);
    }
    return out.sort();
  }

  it('applies a directory (multi-document YAML, JSON, a Bundle): every resource is created', async () => {
    const run = await authz(['apply', '-f', join(work, 'policies')], env);
    expect(run.stderr).toContain('applying 9/9');
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain('applied: 9 to create, 0 to replace, 0 to delete, 0 unchanged');
    expect(await stored()).toEqual(EXPECTED);
  });

  it('applies the same files again: the plan says nothing changes', async () => {
    const run = await authz(['apply', '-f', join(work, 'policies')], env);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain('no changes (9 unchanged)');
    expect(run.stderr).toBe('');
  });

  it('--dry-run prints a replace and writes nothing', async () => {
    const file = join(work, 'policies/read-only-patients.yaml');
    const original = await readFile(file, 'utf8');
    await writeFile(file, original.replace('sub: reader', 'sub: reader-2'));
    const run = await authz(['apply', '--dry-run', '-f', join(work, 'policies')], env);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(
      /replace\s*│\s*AccessPolicy\/read-only-patients\s*│\s*\S*policies\/read-only-patients\.yaml/,
    );
    expect(run.stdout).toContain('0 to create, 1 to replace, 0 to delete, 8 unchanged');
    expect(run.stdout).toContain('dry run: nothing was written');
    const policy = (await (await cluster.admin('GET', '/AccessPolicy/read-only-patients')).json()) as {
      matcho: { jwt: { sub: string } };
    };
    expect(policy.matcho.jwt.sub).toBe('reader');
    await writeFile(file, original);
  });

  it('--prune deletes a resource removed from the directory, and only that one', async () => {
    await unlink(join(work, 'policies/own-practitioner.yaml'));
    const run = await authz(['apply', '-f', join(work, 'policies'), '--prune'], env);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/delete\s*│\s*AccessPolicy\/own-practitioner\s*│\s*\(not in the files\)/);
    expect(await stored()).toEqual(EXPECTED.filter((r) => r !== 'AccessPolicy/own-practitioner'));
  });

  it('refuses a bad policy naming the file and the field, and writes nothing at all', async () => {
    await writeFile(
      join(work, 'policies/new-good.yaml'),
      'resourceType: AccessPolicy\nid: new-good\nengine: allow\n',
    );
    await writeFile(
      join(work, 'policies/zz-bad.yaml'),
      'resourceType: AccessPolicy\nid: zz-bad\nengine: matcho\nmatcho:\n  uri: 42\n  request-method: {$bogus: 1}\n',
    );
    const before = await stored();
    const run = await authz(['apply', '-f', join(work, 'policies'), '--prune'], env);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('nothing was written');
    expect(run.stderr).toMatch(/policies\/zz-bad\.yaml: AccessPolicy\.matcho\.request-method.*\$bogus/);
    expect(run.stderr).toContain('resourceType: OperationOutcome');
    expect(await stored()).toEqual(before);
    await unlink(join(work, 'policies/zz-bad.yaml'));
    await unlink(join(work, 'policies/new-good.yaml'));
  });

  it('refuses an unparsable file with its line, before asking the cluster anything', async () => {
    await writeFile(join(work, 'broken.yaml'), 'resourceType: User\nid: a\nid: b\n');
    const run = await authz(['apply', '-f', join(work, 'broken.yaml')], env);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/broken\.yaml \(line 3, column 1\): Map keys must be unique/);
  });

  it('export then apply on an empty cluster reproduces it', async () => {
    const out = join(work, 'export');
    const exported = await authz(['export', '-o', out], env);
    expect(exported.code, exported.stderr).toBe(0);
    expect(exported.stdout).toBe(`exported 8 resources to ${out}\n`);
    expect(await readFile(join(out, 'AccessPolicy/admins.yaml'), 'utf8')).toBe(
      'resourceType: AccessPolicy\nid: admins\nengine: allow\nroleName: admin\n',
    );
    empty = await startCluster({ workers: 0, gateway: false });
    const emptyEnv = { AUTHZ_CONFIG_URL: empty.configUrl, AUTHZ_ADMIN_PASSWORD: empty.adminPassword };
    const applied = await authz(['apply', '-f', out], emptyEnv);
    expect(applied.code, applied.stderr).toBe(0);
    const [a, b] = await Promise.all([authz(['export'], env), authz(['export'], emptyEnv)]);
    expect(b.stdout).toBe(a.stdout);
    expect(await stored(empty)).toEqual(await stored());
  });

  it('undoes the writes already made when a later one is refused (a concurrent edit: 412)', async () => {
    const api = new ConfigClient({ url: cluster.configUrl, user: 'admin', password: cluster.adminPassword });
    const docs: ResourceDoc[] = [
      {
        source: { file: 'a.yaml', doc: 0 },
        type: 'AccessPolicy',
        id: 'rollback-new',
        resource: { resourceType: 'AccessPolicy', id: 'rollback-new', engine: 'allow' },
      },
      {
        source: { file: 'b.yaml', doc: 0 },
        type: 'User',
        id: 'carol',
        resource: { resourceType: 'User', id: 'carol', name: [{ given: ['Caroline'] }] },
      },
    ];
    const steps = await planApply(api, docs);
    expect(steps.map((s) => s.action)).toEqual(['create', 'replace']);
    // Someone edits User/carol between the plan and the write.
    const edited = await cluster.admin('PUT', '/User/carol', {
      resourceType: 'User',
      name: [{ given: ['C.'] }],
    });
    expect(edited.status).toBe(200);
    await expect(executePlan(api, steps)).rejects.toThrow(/PUT \/User\/carol answered 412/);
    expect((await cluster.admin('GET', '/AccessPolicy/rollback-new')).status).toBe(404);
    const carol = (await (await cluster.admin('GET', '/User/carol')).json()) as { name: unknown };
    expect(carol.name).toEqual([{ given: ['C.'] }]);
  });

  it('says what is wrong when the cluster cannot be reached or refuses the password', async () => {
    const wrong = await authz(['export'], { ...env, AUTHZ_ADMIN_PASSWORD: 'wrong' });
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toContain('refused the admin credentials');
    const none = await authz(['export'], { AUTHZ_CONFIG_URL: cluster.configUrl });
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('AUTHZ_ADMIN_PASSWORD is not set');
  });
});

describe('authz test (offline: no cluster)', () => {
  it('passes the suites of the Aidbox docs policies', async () => {
    const run = await authz(['test', FIXTURES]);
    expect(run.code, run.stdout).toBe(0);
    expect(run.stdout).toContain(
      'PASS  test/cli/policies/docs-policies.test.yaml  read-only-patients: reader GETs a Patient',
    );
    expect(run.stdout.trim().split('\n').at(-1)).toBe('15 passed, 0 failed');
  });

  it('fails a wrong expectation with the explain of why', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'authz-test-'));
    try {
      await cp(join(FIXTURES, 'read-only-patients.yaml'), join(dir, 'read-only-patients.yaml'));
      await writeFile(
        join(dir, 'wrong.test.yaml'),
        [
          'policy: read-only-patients.yaml',
          'cases:',
          '  - name: reader may POST (wrong)',
          '    context: { request-method: post, uri: /fhir/Patient, jwt: { sub: reader } }',
          '    expect: true',
          '  - name: reader GETs',
          '    context: { request-method: get, uri: /fhir/Patient, jwt: { sub: reader } }',
          '    expect: true',
        ].join('\n'),
      );
      const run = await authz(['test', dir]);
      expect(run.code).toBe(1);
      expect(run.stdout).toContain('FAIL');
      expect(run.stdout).toContain('read-only-patients: reader may POST (wrong)');
      expect(run.stdout).toContain('expected allow, got deny');
      expect(run.stdout).toMatch(
        /explain:\n\s+- policy: read-only-patients\n\s+engine: matcho\n\s+result: false/,
      );
      expect(run.stdout).toContain('path: request-method');
      expect(run.stdout.trim().split('\n').at(-1)).toBe('1 passed, 1 failed');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('AUTHZ_INIT_BUNDLE (the config service loads it at start, idempotently)', () => {
  let nats: TestServer | undefined;
  const password = `pw-${Math.random().toString(36).slice(2)}`;
  afterAll(async () => {
    await nats?.dispose();
  });

  it('creates the resources once, leaves them alone on a restart, and refuses an invalid bundle', async () => {
    nats = await startNats();
    const port = String(await freePort());
    const env = {
      NATS_URL: nats.url,
      CONFIG_PORT: port,
      CONFIG_ADMIN_PASSWORD: password,
      AUTHZ_INIT_BUNDLE: FIXTURES,
    };
    const first = await startService('config', env);
    const loaded = await first.waitForLog((l) => l.msg === 'init bundle loaded');
    expect(loaded).toMatchObject({ created: 9, replaced: 0, unchanged: 0 });
    await first.stop();
    const second = await startService('config', env);
    expect(await second.waitForLog((l) => l.msg === 'init bundle loaded')).toMatchObject({
      created: 0,
      replaced: 0,
      unchanged: 9,
    });
    const run = await authz(['export'], {
      AUTHZ_CONFIG_URL: `http://127.0.0.1:${port}`,
      AUTHZ_ADMIN_PASSWORD: password,
    });
    expect(run.stdout.match(/^resourceType: /gm)?.length).toBe(9);
    await second.stop();

    const bad = await mkdtemp(join(tmpdir(), 'authz-init-'));
    try {
      await writeFile(
        join(bad, 'bundle.json'),
        JSON.stringify({
          resourceType: 'Bundle',
          type: 'collection',
          entry: [
            { resource: { resourceType: 'AccessPolicy', id: 'fresh', engine: 'allow' } },
            { resource: { resourceType: 'AccessPolicy', id: 'broken', engine: 'sql', sql: { query: 'x' } } },
          ],
        }),
      );
      const refused = startService('config', { ...env, AUTHZ_INIT_BUNDLE: bad });
      await expect(refused).rejects.toThrow(/bundle\.json entry\[1\]: AccessPolicy\.engine: .*sql/);
      expect(await fetchPolicy(nats.url, 'fresh')).toBeUndefined();
    } finally {
      await rm(bad, { recursive: true, force: true });
    }
  });
});

/** The KV value of an AccessPolicy, read straight from NATS (no config service running). */
async function fetchPolicy(natsUrl: string, id: string): Promise<unknown> {
  const nc = await connect({ servers: natsUrl });
  try {
    const kv = await new Kvm(nc).open('authz_config');
    const entry = await kv.get(`AccessPolicy.${id}`);
    return entry && entry.operation === 'PUT' ? entry.json() : undefined;
  } finally {
    await nc.close();
  }
}
