/**
 * The texts of an `X-Authz-Warning` header (`299 authz "…", 299 authz "…"`, DESIGN §11), in
 * order; none for an absent header.
 */
export function warningTexts(header: string | null | undefined): string[] {
  return [...(header ?? '').matchAll(/299 authz "([^"]*)"/g)].map((m) => m[1] as string);
}
