/**
 * The policy pack's rules, built from a context (objectives, classification, role, retention
 * floors). Kept apart from `index.ts`, which starts the policy server, so tests can call each
 * rule's `validateResource` / `validateStack` directly.
 */
import type { Policies } from "@pulumi/policy";
import type { PolicyContext } from "./rule-context.ts";
import { heartbeatPolicy } from "./heartbeat-rules.ts";
import { iamWildcardPolicy } from "./iam-rules.ts";
import { deletionSafetyPolicy, encryptionPolicy, rtcPolicy } from "./resource-rules.ts";
import { pitrPolicy, retentionPolicy } from "./retention-rules.ts";
import {
  bucketAccessResourcePolicy,
  bucketAccessStackPolicy,
  crossRegionPolicy,
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
    heartbeatPolicy(),
  ];
}
