/** What the "Try a request" form holds. */
export interface RequestForm {
  method: string;
  uri: string;
  /** one `Name: value` per line; blank lines and `#` comments are skipped */
  headers: string;
  /** a pasted token; sent as `Authorization: Bearer …` (a leading `Bearer ` is accepted) */
  token: string;
  /** JSON, or empty for none */
  body: string;
}

/** The body of `POST /$check` (DESIGN §5 check request). */
export interface CheckRequestBody {
  method: string;
  uri: string;
  headers: Record<string, string | string[]>;
  body?: unknown;
}

/**
 * Turns the form into a check request, or a sentence saying what to fix. Header names are
 * lower-cased (workers compare them so); a repeated header becomes a list.
 */
export function buildCheckRequest(form: RequestForm): { request: CheckRequestBody } | { error: string } {
  const method = form.method.trim().toUpperCase();
  if (!/^[A-Z-]+$/.test(method)) return { error: 'the method must be letters only, e.g. GET' };
  const uri = form.uri.trim();
  if (!uri.startsWith('/'))
    return { error: 'the URI must start with / (path and query, e.g. /fhir/Patient?name=x)' };
  const headers: Record<string, string | string[]> = {};
  const lines = form.headers.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = (lines[i] as string).trim();
    if (line === '' || line.startsWith('#')) continue;
    const colon = line.indexOf(':');
    const name = colon > 0 ? line.slice(0, colon).trim().toLowerCase() : '';
    if (!/^[!#$%&'*+.^_`|~0-9a-z-]+$/.test(name)) {
      return { error: `header line ${i + 1} is not "Name: value"` };
    }
    const value = line.slice(colon + 1).trim();
    const previous = headers[name];
    headers[name] =
      previous === undefined ? value : [...(Array.isArray(previous) ? previous : [previous]), value];
  }
  const token = form.token.trim().replace(/^bearer\s+/i, '');
  if (token !== '') headers.authorization = `Bearer ${token}`;
  const request: CheckRequestBody = { method, uri, headers };
  if (form.body.trim() !== '') {
    try {
      request.body = JSON.parse(form.body);
    } catch (err) {
      return { error: `the body is not JSON: ${(err as Error).message}` };
    }
  }
  return { request };
}
