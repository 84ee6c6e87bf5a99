export { type ConfigChange, ConfigState } from './config-state.js';
export { type Decision, type DecisionDeps, decide } from './decide.js';
export { createTokenVerifier, type DescribedToken, describeIdentity, type TokenSource } from './described.js';
export {
  checkReplyJson,
  type DecisionEventFields,
  decisionEventJson,
  redactUri,
  scrubExplain,
} from './events.js';
export { replies } from './replies.js';
export { bearerToken, type ParsedCheck, parseCheckRequest } from './request.js';
