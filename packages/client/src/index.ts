export { AuthzClient, type AuthzClientOptions, type CheckOptions } from './client.js';
export { type CheckFailureCode, parseReply, unavailableReply } from './failure.js';
