/**
 * The EventChain DR policy pack: `pulumi preview --policy-pack policy` (with EVENTCHAIN_STACK
 * set to the stack). Every rule is mandatory and derived from the objectives in the config.
 */
import { PolicyPack } from "@pulumi/policy";
import { loadPolicyContext } from "./load.ts";
import { policies } from "./rules.ts";

new PolicyPack("eventchain-dr", {
  description:
    "Backup and DR posture of EventChain: retention, PITR, deletion safety, customer-key encryption, " +
    "cross-region copies, RTC, vault lock, private TLS-only buckets, no wildcard actions on backup " +
    "resources, a heartbeat alarm on every backup path.",
  enforcementLevel: "mandatory",
  policies: policies(loadPolicyContext(process.env.EVENTCHAIN_STACK)),
});
