#!/usr/bin/env node
import Table from 'cli-table3';
import { Command } from 'commander';
import { stringify } from 'yaml';
import { ApiUnreachableError, ConfigClient } from './api.js';
import { executePlan, type PlanStep, planApply } from './apply.js';
import { DocumentError, describeSource, loadResources } from './documents.js';
import { exportResources, exportYaml, writeExport } from './export.js';
import { RefusedError } from './outcome.js';
import { type CaseResult, runPolicyTests } from './policy-test.js';

/** Exit codes: 0 done, 1 refused or a test failed, 2 could not run (files, connection, usage). */
const EXIT_REFUSED = 1;
const EXIT_ERROR = 2;

const program = new Command('authz')
  .description(
    'Configuration as code for authz (DESIGN §14). Talks to the config service at AUTHZ_CONFIG_URL ' +
      'with AUTHZ_ADMIN_USER / AUTHZ_ADMIN_PASSWORD.',
  )
  .showHelpAfterError()
  .exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : EXIT_ERROR));

program
  .command('apply')
  .description(
    'create or replace the resources in files (YAML, multi-document YAML, JSON, Bundles); all or nothing',
  )
  .requiredOption(
    '-f, --filename <path>',
    'a file or a directory (read recursively; *.test.yaml suites are skipped)',
  )
  .option('--dry-run', 'print the plan and write nothing')
  .option('--prune', 'delete stored resources of the types present that the files do not name')
  .action(async (opts: { filename: string; dryRun?: boolean; prune?: boolean }) => {
    const api = ConfigClient.fromEnv();
    const docs = await loadResources(opts.filename);
    const steps = await planApply(api, docs, { prune: opts.prune });
    process.stdout.write(`${planTable(steps)}\n${planSummary(steps)}\n`);
    if (opts.dryRun) {
      process.stdout.write('dry run: nothing was written\n');
      return;
    }
    const progress = progressLine();
    await executePlan(api, steps, progress);
    process.stdout.write(`applied: ${planSummary(steps)}\n`);
  });

program
  .command('export')
  .description('every stored resource as YAML: one file per resource with -o, else one stream on stdout')
  .option('-o, --output <dir>', 'directory to write <type>/<id>.yaml into')
  .action(async (opts: { output?: string }) => {
    const resources = await exportResources(ConfigClient.fromEnv());
    if (!opts.output) {
      process.stdout.write(exportYaml(resources));
      return;
    }
    const files = await writeExport(opts.output, resources);
    process.stdout.write(`exported ${files.length} resources to ${opts.output}\n`);
  });

program
  .command('test')
  .description('run policy test suites offline (no cluster) with the evaluator the workers use')
  .argument('<path>', 'a suite file, or a directory of *.test.yaml suites')
  .action(async (path: string) => {
    const results = await runPolicyTests(path);
    for (const r of results) process.stdout.write(caseReport(r));
    const failed = results.filter((r) => !r.passed).length;
    process.stdout.write(`\n${results.length - failed} passed, ${failed} failed\n`);
    if (failed > 0) process.exitCode = EXIT_REFUSED;
  });

function planTable(steps: PlanStep[]): string {
  const table = new Table({ head: ['action', 'resource', 'source'], style: { head: [], border: [] } });
  for (const s of steps) {
    table.push([s.action, `${s.type}/${s.id}`, s.source ? describeSource(s.source) : '(not in the files)']);
  }
  return table.toString();
}

/** `2 to create, 1 to replace, 3 unchanged, 1 to delete` — or `no changes`. */
function planSummary(steps: PlanStep[]): string {
  const count = (a: PlanStep['action']) => steps.filter((s) => s.action === a).length;
  const changes = steps.length - count('unchanged');
  const parts = [
    `${count('create')} to create`,
    `${count('replace')} to replace`,
    `${count('delete')} to delete`,
    `${count('unchanged')} unchanged`,
  ];
  return changes === 0 ? `no changes (${count('unchanged')} unchanged)` : parts.join(', ');
}

/** One line rewritten in place on a terminal; a line per tenth of the work in a CI log. */
function progressLine(): (done: number, total: number, step: PlanStep) => void {
  const tty = process.stderr.isTTY;
  return (done, total, step) => {
    const line = `applying ${done}/${total}: ${step.action} ${step.type}/${step.id}`;
    if (tty) process.stderr.write(`\r\x1b[2K${line}${done === total ? '\n' : ''}`);
    else if (done === total || done % Math.max(1, Math.ceil(total / 10)) === 0)
      process.stderr.write(`${line}\n`);
  };
}

function caseReport(r: CaseResult): string {
  const head = `${r.passed ? 'PASS' : 'FAIL'}  ${r.suite}  ${r.policy}: ${r.name}\n`;
  if (r.passed) return head;
  const why = r.error
    ? `      ${r.error}\n`
    : `      expected ${r.expected ? 'allow' : 'deny'}, got ${r.actual ? 'allow' : 'deny'}` +
      `${r.applicable === false ? ' (the policy is not applicable to this context)' : ''}\n` +
      `      explain:\n${indent(stringify(r.explain), 8)}`;
  return head + why;
}

function indent(text: string, n: number): string {
  const pad = ' '.repeat(n);
  return text
    .trimEnd()
    .split('\n')
    .map((l) => pad + l)
    .join('\n')
    .concat('\n');
}

program.parseAsync(process.argv).catch((err: unknown) => {
  if (err instanceof RefusedError) {
    process.stderr.write(err.render());
    process.exit(EXIT_REFUSED);
  }
  const known = err instanceof DocumentError || err instanceof ApiUnreachableError;
  process.stderr.write(`error: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(known ? EXIT_ERROR : EXIT_REFUSED);
});
