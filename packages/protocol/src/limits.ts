/** Bearer tokens longer than this are refused before any parsing or crypto. */
export const MAX_TOKEN_BYTES = 16 * 1024;

/** Largest check request a worker accepts (bytes of JSON). */
export const MAX_CHECK_REQUEST_BYTES = 1024 * 1024;

/** Most headers a check request may carry. */
export const MAX_CHECK_HEADERS = 256;

/** Largest resource body the config service accepts. */
export const MAX_RESOURCE_BYTES = 1024 * 1024;

/** Default seconds of clock skew tolerated on `exp`, `nbf`, `iat`. */
export const DEFAULT_CLOCK_SKEW_SECONDS = 60;

/** Default `cache_ttl` of a TokenIntrospector, seconds. */
export const DEFAULT_CACHE_TTL_SECONDS = 300;

/** Default `jwt.max_lifetime` of a TokenIntrospector, seconds (DESIGN §11: no token is eternal). */
export const DEFAULT_MAX_LIFETIME_SECONDS = 86400;

/** Longest request target (path and query) a check may carry; longer is 414 (DESIGN §10). */
export const MAX_TARGET_LENGTH = 16384;

/** Most query parameters a request may carry; more is refused (414), never truncated (DESIGN §10). */
export const MAX_QUERY_PARAMS = 256;

/** Deepest nesting of a JSON body shown to policies; deeper is refused (400), never truncated. */
export const MAX_JSON_DEPTH = 64;

/**
 * Longest form body (`application/x-www-form-urlencoded`, FHIR search by POST) whose parameters
 * policies see, in characters; longer is refused (413), never truncated (DESIGN §10).
 */
export const MAX_FORM_BODY_LENGTH = 65536;
