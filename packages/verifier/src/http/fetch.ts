import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { LookupFunction } from 'node:net';
import { ForbiddenAddressError, forbiddenAddress, forbiddenHost, guardedLookup } from './address-policy.js';

/** Why an outbound URL is not acceptable, or `undefined` when it is. */
export function checkOutboundUrl(raw: string, insecureHosts: readonly string[] = []): string | undefined {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return 'is not a valid absolute URL';
  }
  if (url.username || url.password) return 'must not carry credentials in the URL';
  // DESIGN §11 fetch safety: an IP literal is judged here; a name again when it is resolved.
  const forbidden = forbiddenHost(url);
  if (forbidden) return forbidden;
  if (url.protocol === 'https:') return undefined;
  if (url.protocol !== 'http:')
    return `uses ${url.protocol.replace(':', '')}: only https (or http for loopback) is allowed`;
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (isLoopback(host) || insecureHosts.includes(host)) return undefined;
  return `uses plain http for ${host}: use https, or list the host in AUTHZ_INSECURE_HOSTS`;
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/** A bounded HTTP exchange's outcome. */
export interface FetchResult {
  status: number;
  body: string;
  headers: Record<string, string | string[] | undefined>;
}

/** Options of {@link boundedFetch}. */
export interface BoundedFetchOptions {
  method?: 'GET' | 'POST';
  headers?: Record<string, string>;
  body?: string;
  timeoutMs: number;
  maxBytes: number;
  /** Resolves host names; default {@link guardedLookup} (tests resolve names of their own). */
  lookup?: LookupFunction;
}

/**
 * One HTTP request with a hard deadline (connect + response), a response size limit, and no
 * redirects followed (a 3xx is returned as is). Rejects on network errors, timeouts and bodies
 * over the limit, and with {@link ForbiddenAddressError} when the host is, or resolves to, a
 * link-local, unspecified or multicast address (DESIGN §11): the address checked is the address
 * connected to, so a DNS answer that changes between PUT and fetch cannot reach one.
 */
export function boundedFetch(url: string, options: BoundedFetchOptions): Promise<FetchResult> {
  return new Promise((resolve, reject) => {
    const target = new URL(url);
    const literal = target.hostname.replace(/^\[|\]$/g, '');
    const what = forbiddenAddress(literal);
    if (what) {
      reject(new ForbiddenAddressError(literal, literal, what));
      return;
    }
    const send = target.protocol === 'https:' ? httpsRequest : httpRequest;
    const req = send(target, {
      lookup: options.lookup ?? guardedLookup,
      method: options.method ?? 'GET',
      headers: {
        accept: 'application/json',
        ...(options.body === undefined ? {} : { 'content-length': Buffer.byteLength(options.body) }),
        ...options.headers,
      },
    });
    const timer = setTimeout(() => {
      req.destroy(new Error(`no answer from ${target.origin} within ${options.timeoutMs} ms`));
    }, options.timeoutMs);
    req.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > options.maxBytes) {
          req.destroy(new Error(`response from ${target.origin} exceeds ${options.maxBytes} bytes`));
          return;
        }
        chunks.push(chunk);
      });
      res.on('end', () => {
        clearTimeout(timer);
        resolve({
          status: res.statusCode ?? 0,
          body: Buffer.concat(chunks).toString('utf8'),
          headers: res.headers,
        });
      });
      res.on('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
    });
    req.end(options.body);
  });
}
