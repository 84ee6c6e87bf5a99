import { isMap, isScalar, isSeq, type Node, type Pair, parseDocument } from 'yaml';

/** One step of an issue's path: a field name or a list index. */
export type PathSegment = string | number;

/** Where in the YAML text an issue belongs. */
export interface YamlLocation {
  /** character offsets of the marked span */
  from: number;
  to: number;
  /** 1-based line of `from` */
  line: number;
  /** false when the path leads past what the text holds (a missing field): the nearest parent is marked */
  exact: boolean;
}

/**
 * Splits an OperationOutcome `expression` (FHIRPath-like: `AccessPolicy.matcho.uri`,
 * `TokenIntrospector.jwt.keys[0].pub`, backtick-quoted odd names) into segments, dropping the
 * leading resource type when it is `root`.
 *
 * @example
 * parseExpression('AccessPolicy.matcho.uri.$bogus', 'AccessPolicy'); // ['matcho', 'uri', '$bogus']
 */
export function parseExpression(expression: string, root?: string): PathSegment[] {
  const out: PathSegment[] = [];
  let i = 0;
  let name = '';
  const flush = () => {
    if (name !== '') out.push(name);
    name = '';
  };
  while (i < expression.length) {
    const c = expression[i] as string;
    if (c === '`') {
      const end = expression.indexOf('`', i + 1);
      name += expression.slice(i + 1, end < 0 ? undefined : end);
      i = end < 0 ? expression.length : end + 1;
    } else if (c === '[') {
      const end = expression.indexOf(']', i);
      const index = expression.slice(i + 1, end < 0 ? undefined : end);
      flush();
      out.push(/^\d+$/.test(index) ? Number(index) : index);
      i = end < 0 ? expression.length : end + 1;
    } else if (c === '.') {
      flush();
      i++;
    } else {
      name += c;
      i++;
    }
  }
  flush();
  if (root !== undefined && out[0] === root) out.shift();
  return out;
}

/**
 * Finds the span of `path` in a YAML (or JSON) document: the key of a mapping entry, or the item
 * of a list. Names are matched greedily, so a key that itself holds dots (`a.b`) is found even
 * though the expression splits it. When the path goes further than the text (a required field
 * that is missing), the deepest part that exists is returned with `exact: false`. `undefined`
 * when the text does not parse into a document at all.
 */
export function locateInYaml(text: string, path: readonly PathSegment[]): YamlLocation | undefined {
  const doc = parseDocument(text, { keepSourceTokens: false, uniqueKeys: false });
  if (doc.errors.length > 0 && !doc.contents) return undefined;
  const contents = doc.contents as Node | null;
  const start = firstContentOffset(text);
  let best: { from: number; to: number } = { from: start, to: lineEnd(text, start) };
  let node: unknown = contents;
  let i = 0;
  while (i < path.length) {
    const step = descend(node, path, i);
    if (!step) return at(text, best, false);
    best = step.span;
    node = step.node;
    i += step.consumed;
  }
  return at(text, best, true);
}

function descend(
  node: unknown,
  path: readonly PathSegment[],
  i: number,
): { node: unknown; span: { from: number; to: number }; consumed: number } | undefined {
  const segment = path[i];
  if (isSeq(node) && typeof segment === 'number') {
    const item = node.items[segment] as Node | undefined;
    const range = item?.range;
    return range ? { node: item, span: { from: range[0], to: range[1] }, consumed: 1 } : undefined;
  }
  if (!isMap(node) || segment === undefined) return undefined;
  // Longest run of name segments first: `a.b` as one key beats `a` then `b`.
  for (let n = path.length - i; n >= 1; n--) {
    const names = path.slice(i, i + n);
    if (names.some((s) => typeof s !== 'string')) continue;
    const key = names.join('.');
    const pair = (node.items as Pair[]).find((p) => isScalar(p.key) && String(p.key.value) === key);
    const range = pair && isScalar(pair.key) ? pair.key.range : undefined;
    if (pair && range) return { node: pair.value, span: { from: range[0], to: range[1] }, consumed: n };
  }
  return undefined;
}

function at(text: string, span: { from: number; to: number }, exact: boolean): YamlLocation {
  const from = Math.min(span.from, text.length);
  const to = Math.max(from, Math.min(span.to, text.length));
  return { from, to, line: text.slice(0, from).split('\n').length, exact };
}

function firstContentOffset(text: string): number {
  const match = /^(?:\s*(?:#[^\n]*)?\n)*\s*/.exec(text);
  return match ? match[0].length : 0;
}

function lineEnd(text: string, offset: number): number {
  const nl = text.indexOf('\n', offset);
  return nl < 0 ? text.length : nl;
}
