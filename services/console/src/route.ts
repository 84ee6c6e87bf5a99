import { RESOURCE_TYPES, type ResourceType } from './api/types.js';

/** The console's pages, addressed by the URL fragment (`#/resources/AccessPolicy/p1`). */
export type Route =
  /** `creating`: the editor of a new resource (`#/resources/AccessPolicy/$new`; ids never hold `$`) */
  | { page: 'resources'; type: ResourceType; id?: string; creating?: boolean }
  | { page: 'try' }
  | { page: 'test' }
  | { page: 'decisions' };

const NEW = '$new';

/** Reads a fragment; anything unknown is the resource list. */
export function parseRoute(hash: string): Route {
  const [page = '', type = '', ...rest] = hash.replace(/^#\/?/, '').split('/').map(safeDecode);
  if (page === 'try' || page === 'test' || page === 'decisions') return { page };
  const known = (RESOURCE_TYPES as readonly string[]).includes(type)
    ? (type as ResourceType)
    : 'AccessPolicy';
  const id = rest.join('/');
  if (id === NEW) return { page: 'resources', type: known, creating: true };
  return id ? { page: 'resources', type: known, id } : { page: 'resources', type: known };
}

/** The fragment of a route. */
export function routeHash(route: Route): string {
  if (route.page !== 'resources') return `#/${route.page}`;
  if (route.creating) return `#/resources/${route.type}/${NEW}`;
  return `#/resources/${route.type}${route.id ? `/${encodeURIComponent(route.id)}` : ''}`;
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}
