import { type RequestHeaders, type RequestRefusal, refuse } from '@authz/protocol';

/**
 * Headers that carry one credential each: Authorization (Bearer, DPoP and Basic credentials are
 * token68, RFC 9110 §11.2) and a DPoP proof (a compact JWS, RFC 9449 §4.3). Neither value ever
 * holds a ",".
 */
const SINGLE_CREDENTIAL = { authorization: 'Authorization', dpop: 'DPoP' } as const;

/**
 * Refuses a credential header that Envoy joined from two (DESIGN §10: more than one
 * Authorization header → 400). Envoy merges a repeated request header into one value joined with
 * "," — in the ext_authz `headers` map, and in its own header map for inline headers such as
 * Authorization, which its HTTP ext_authz request copies — so at the Envoy entry points a comma in
 * a single-credential header is two headers, of which the upstream may read either.
 */
export function joinedCredential(headers: RequestHeaders): RequestRefusal | undefined {
  for (const name of Object.keys(SINGLE_CREDENTIAL) as Array<keyof typeof SINGLE_CREDENTIAL>) {
    const value = headers[name];
    if (typeof value === 'string' && value.indexOf(',') !== -1)
      return refuse(
        'header_ambiguous',
        `the request carries more than one ${SINGLE_CREDENTIAL[name]} header (Envoy joins repeated headers with ",")`,
      );
  }
  return undefined;
}
