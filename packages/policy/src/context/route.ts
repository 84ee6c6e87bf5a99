/** FHIR route parameters Aidbox puts into `params` (`resource/type`, `resource/id`, `resource/vid`). */
export interface FhirRoute {
  type?: string;
  id?: string;
  vid?: string;
}

// A resource type is capitalised (FHIR and Aidbox custom resources alike); lower-case first
// segments are operations or endpoints (`metadata`, `$export`, `_authz`).
const TYPE = /^[A-Z][A-Za-z0-9]{0,63}$/;
// Id rule of DESIGN §7 (FHIR says 64; Aidbox accepts longer); `_search`, `_history` and `$op` segments are not ids.
const ID = /^[A-Za-z0-9\-.]{1,255}$/;

/**
 * Route parameters of a request path, for `/fhir/:type/:id/_history/:vid` and `/:type/:id`
 * (Aidbox serves both). Segments that are not a resource type / FHIR id end the parse.
 *
 * @example parseFhirRoute('/fhir/Patient/pt-1/_history/2') // { type: 'Patient', id: 'pt-1', vid: '2' }
 */
export function parseFhirRoute(path: string): FhirRoute {
  const segments = path.split('/', 7);
  // segments[0] is '' for an absolute path; a relative path has no route.
  return segments[0] === '' ? routeOfSegments(segments.slice(1)) : {};
}

/**
 * Route parameters from a path's decoded segments (a `RequestTarget`'s `segments`, so
 * `/fhir/Patient/%70t-1` routes to `pt-1`, as the upstream will).
 */
export function routeOfSegments(segments: readonly string[]): FhirRoute {
  let at = segments[0] === 'fhir' ? 1 : 0;
  const type = segments[at];
  if (type === undefined || !TYPE.test(type)) return {};
  const route: FhirRoute = { type };
  const id = segments[++at];
  if (id === undefined || !ID.test(id)) return route;
  route.id = id;
  if (segments[++at] !== '_history') return route;
  const vid = segments[++at];
  if (vid !== undefined && ID.test(vid)) route.vid = vid;
  return route;
}
