/**
 * What a caller-supplied request id may be: short and printable, so it is safe in logs, headers
 * and events. One rule for the gateway, the config service and the worker.
 */
const REQUEST_ID = /^[\w.:-]{1,128}$/;

/**
 * The caller's request id (`X-Request-Id`, or the NATS header) when it follows the rule;
 * `undefined` otherwise, so the caller falls back to its own (`?? randomUUID()`). A repeated
 * header counts by its first value.
 */
export function acceptRequestId(value: string | readonly string[] | null | undefined): string | undefined {
  const given = typeof value === 'string' ? value : value?.[0];
  return given !== undefined && REQUEST_ID.test(given) ? given : undefined;
}
