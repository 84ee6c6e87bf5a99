export { ConfigState, type ConfigChange } from './config-state.js';
export { type Decision, type DecisionDeps, decide, describeIdentity } from './decide.js';
export { decisionEvent, redactUri, scrubExplain } from './events.js';
export { bearerToken, parseCheckRequest, type ParsedCheck } from './request.js';
export { replies } from './replies.js';
