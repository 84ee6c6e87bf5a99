export {
  BODY_METHODS,
  type BodyView,
  bodyMediaType,
  isJsonMediaType,
  parseStrictJson,
  readRequestBody,
} from './body.js';
export { type CanonicalCheck, type CheckInput, canonicalCheck, UNSENT_BODY } from './canonical.js';
export { contentTypeCharset, isUtf8, queryCharsetRefusal } from './charset.js';
export { FORM_MEDIA_TYPE, isFormContentType, isUrlencodedContentType, parseFormBody } from './form.js';
export {
  canonicalHeaders,
  isReservedHeader,
  METHOD_OVERRIDE_HEADERS,
  RESERVED_HEADER_PREFIX,
  type RequestHeaders,
  TARGET_OVERRIDE_HEADERS,
} from './headers.js';
export { checkParsedJson, scanJson } from './json-scan.js';
export {
  addParam,
  type ParameterSource,
  parseQueryParams,
  QUERY_SOURCE,
  type QueryParams,
  ROUTE_PARAMS,
} from './query.js';
export { isRefusal, type RefusalCode, type RequestRefusal, refuse } from './refusal.js';
export { parseRequestTarget, type RequestTarget } from './target.js';
