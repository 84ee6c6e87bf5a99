import { useMemo, useRef, useState } from 'preact/hooks';
import { parse, YAMLParseError } from 'yaml';
import { ApiFailure, callApi } from '../api/client.js';
import type { TestPolicyResult } from '../api/types.js';
import { ExplainList } from '../components/explain.js';
import { ErrorNote, IssueList } from '../components/issues.js';
import { type EditorHandle, type EditorMark, YamlEditor } from '../editor/yaml-editor.js';
import { type PlacedIssue, placeIssues } from '../yaml/issues.js';

let policyText = `resourceType: AccessPolicy
engine: matcho
matcho:
  request-method: get
  uri: "#^/fhir/Patient"
  jwt:
    iss: https://auth.example.com
`;
let contextText = `request-method: get
uri: /fhir/Patient/pt-1
jwt:
  iss: https://auth.example.com
  sub: some-user-id
user:
  id: some-user-id
`;

type Which = 'policy' | 'context';

/**
 * Test a policy: an AccessPolicy and a request context, both YAML, go to `POST /$test-policy`;
 * nothing is saved. Parse errors and validation issues are marked in the editor they are about.
 */
export function TestPolicyPage() {
  const [policy, setPolicy] = useState(policyText);
  const [context, setContext] = useState(contextText);
  const [issues, setIssues] = useState<Record<Which, PlacedIssue[]>>({ policy: [], context: [] });
  const [result, setResult] = useState<TestPolicyResult>();
  const [error, setError] = useState<string>();

  const marks = useMemo(
    () => ({ policy: toMarks(issues.policy), context: toMarks(issues.context) }),
    [issues],
  );

  async function run(event: Event) {
    event.preventDefault();
    setError(undefined);
    const parsed = { policy: parseSide(policy, 'policy'), context: parseSide(context, 'context') };
    const failed = { policy: parsed.policy.issues, context: parsed.context.issues };
    setIssues(failed);
    if (failed.policy.length > 0 || failed.context.length > 0) {
      setResult(undefined);
      setError('Fix the YAML first.');
      return;
    }
    try {
      const { body } = await callApi<TestPolicyResult>('POST', '/$test-policy', {
        body: { policy: parsed.policy.value, context: parsed.context.value },
      });
      setResult(body);
    } catch (err) {
      setResult(undefined);
      if (!(err instanceof ApiFailure)) return setError((err as Error).message);
      const toContext = err.issues.filter((i) => i.expression?.[0]?.startsWith('context'));
      const toPolicy = err.issues.filter((i) => !toContext.includes(i));
      setIssues({
        policy: placeIssues(policy, toPolicy, 'AccessPolicy'),
        context: placeIssues(context, toContext, 'context'),
      });
      setError(`The policy is invalid (${err.status}).`);
    }
  }

  return (
    <div class="two-columns">
      <form onSubmit={run} aria-labelledby="test-title">
        <h2 id="test-title">Test a policy</h2>
        <p class="muted">Evaluates the policy against the context; nothing is saved.</p>
        <EditorField
          id="test-policy"
          title="AccessPolicy (YAML)"
          value={policy}
          marks={marks.policy}
          issues={issues.policy}
          onChange={(v) => {
            policyText = v;
            setPolicy(v);
          }}
        />
        <EditorField
          id="test-context"
          title="Request context (YAML)"
          value={context}
          marks={marks.context}
          issues={issues.context}
          onChange={(v) => {
            contextText = v;
            setContext(v);
          }}
        />
        <div class="actions">
          <button type="submit">Test</button>
        </div>
        <ErrorNote message={error} />
      </form>
      <section class="result" aria-live="polite" aria-label="Test result">
        {result ? (
          <div class="decision" data-result={String(result.result)}>
            <h2>
              <span class={`status-code ${result.result ? 'ok' : 'bad'}`}>
                {result.result ? 'true' : 'false'}
              </span>{' '}
              {result.applicable ? 'applicable' : 'not applicable'}
            </h2>
            <ExplainList entries={result.explain} />
          </div>
        ) : (
          <p class="muted">The result appears here.</p>
        )}
      </section>
    </div>
  );
}

interface EditorFieldProps {
  id: string;
  title: string;
  value: string;
  marks: readonly EditorMark[];
  issues: readonly PlacedIssue[];
  onChange(text: string): void;
}

/** A titled YAML editor with the list of issues found in it. */
function EditorField({ id, title, value, marks, issues, onChange }: EditorFieldProps) {
  const handle = useRef<EditorHandle | undefined>(undefined);
  return (
    <div class="field">
      <span class="label">{title}</span>
      <YamlEditor
        id={id}
        label={title}
        value={value}
        marks={marks}
        onChange={onChange}
        onReady={(h) => {
          handle.current = h;
        }}
      />
      <IssueList title={`${title}: issues`} issues={issues} onReveal={(pos) => handle.current?.reveal(pos)} />
    </div>
  );
}

function parseSide(text: string, which: Which): { value?: unknown; issues: PlacedIssue[] } {
  try {
    const value = parse(text, { maxAliasCount: 16 }) as unknown;
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      return {
        issues: [
          {
            issue: {
              severity: 'error',
              code: 'structure',
              diagnostics: `the ${which} must be a YAML mapping`,
            },
          },
        ],
      };
    }
    return { value, issues: [] };
  } catch (err) {
    if (!(err instanceof YAMLParseError)) throw err;
    const [from = 0, to = from] = err.pos;
    const line = err.linePos?.[0]?.line ?? 1;
    return {
      issues: [
        {
          issue: { severity: 'error', code: 'structure', diagnostics: err.message },
          location: { from, to, line, exact: true },
        },
      ],
    };
  }
}

function toMarks(issues: readonly PlacedIssue[]): EditorMark[] {
  return issues.flatMap((p) =>
    p.location
      ? [{ from: p.location.from, to: p.location.to, message: p.issue.diagnostics ?? p.issue.code }]
      : [],
  );
}
