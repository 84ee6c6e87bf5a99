import { waitForTcp } from '@authz/harness';

export { freePort } from '@authz/harness';

/** Resolves once something accepts TCP connections on `port`, or rejects after `timeoutMs`. */
export function waitForPort(port: number, timeoutMs = 10_000): Promise<void> {
  return waitForTcp(port, { timeoutMs });
}
