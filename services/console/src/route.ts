import { RESOURCE_TYPES, type ResourceType } from './api/types.js';

/** The console's pages, addressed by the URL fragment (`#/resources/AccessPolicy/p1`). */
export type Route =
  | { page: 'resources'; type: ResourceType; id?: string }
  | { page: 'try' }
  | { page: 'test' }
  | { page: 'decisions' };

/** Reads a fragment; anything unknown is the resource list. */
export function parseRoute(hash: string): Route {
  const [page = '', type = '', ...rest] = hash.replace(/^#\/?/, '').split('/').map(safeDecode);
  if (page === 'try' || page === 'test' || page === 'decisions') return { page };
  const known = (RESOURCE_TYPES as readonly string[]).includes(type)
    ? (type as ResourceType)
    : 'AccessPolicy';
  const id = rest.join('/');
  return id ? { page: 'resources', type: known, id } : { page: 'resources', type: known };
}

/** The fragment of a route. */
export function routeHash(route: Route): string {
  if (route.page !== 'resources') return `#/${route.page}`;
  return `#/resources/${route.type}${route.id ? `/${encodeURIComponent(route.id)}` : ''}`;
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}
