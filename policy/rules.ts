/**
 * The policy pack's rules, built from a context (objectives, classification, role, retention
 * floors). Kept apart from `index.ts`, which starts the policy server, so tests can call each
 * rule's `validateResource` / `validateStack` directly.
 */
import type { Policies } from "@pulumi/policy";
import type { PolicyContext } from "./context.ts";
import { deletionSafetyPolicy, encryptionPolicy, pitrPolicy, retentionPolicy, rtcPolicy } from "./resource-rules.ts";
import {
  bucketAccessResourcePolicy,
  bucketAccessStackPolicy,
  crossRegionPolicy,
  iamWildcardPolicy,
  vaultLockPolicy,
} from "./stack-rules.ts";

/** Every rule, all mandatory. */
export function policies(ctx: PolicyContext): Policies {
  return [
    retentionPolicy(ctx),
    pitrPolicy(ctx),
    deletionSafetyPolicy(),
    encryptionPolicy(),
    crossRegionPolicy(ctx),
    rtcPolicy(ctx),
    vaultLockPolicy(),
    bucketAccessResourcePolicy(),
    bucketAccessStackPolicy(),
    iamWildcardPolicy(),
  ];
}
