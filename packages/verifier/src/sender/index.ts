export {
  bindingOf,
  confirmationOf,
  type PresentedToken,
  SenderConstraints,
  type SenderFacts,
  type TokenConfirmation,
} from './constraint.js';
export { type DpopRequest, htuOf, type VerifiedDpopProof, verifyDpopProof } from './proof.js';
export { type DpopReplayStore, MemoryReplayStore, RedisReplayStore } from './replay.js';
