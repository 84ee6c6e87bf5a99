import v8 from 'node:v8';

// V8's automaton-based regexp engine (the `l` flag) runs in time linear in the subject, whatever
// the pattern: no catastrophic backtracking by construction. It sits behind a V8 flag that only
// makes the `l` flag parse; regexps without `l` are untouched. Node 20+ ship it.
v8.setFlagsFromString('--enable-experimental-regexp-engine');

const LINEAR_AVAILABLE = (() => {
  try {
    // A literal `/a/l` would not even parse without the flag: keep the constructor.
    // biome-ignore lint/complexity/useRegexLiterals: the `l` flag is only known at run time
    return new RegExp('a', 'l').test('a');
  } catch {
    return false;
  }
})();

/**
 * Compiles `source` for V8's linear-time engine. Throws `SyntaxError` for invalid patterns and for
 * features that engine cannot run in linear time (backreferences, lookaround, large bounded
 * repetition, the `i` and `u` flags); fails closed when the runtime has no linear engine at all.
 */
export function linearRegExp(source: string, flags = ''): RegExp {
  if (!LINEAR_AVAILABLE) throw new SyntaxError('this runtime has no linear-time regular expression engine');
  return new RegExp(source, `${flags}l`);
}
