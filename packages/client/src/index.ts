export { AuthzClient, type AuthzClientOptions, type CheckOptions, checkMessage } from './client.js';
export { type CheckFailureCode, parseReply, unavailableReply } from './failure.js';
