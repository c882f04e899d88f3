/**
 * Builds the rules' context from the stack's committed config, through `infra/config/load.ts` (the
 * one place config is read). The analyzer is not told which stack it checks, so the workflow
 * sets `EVENTCHAIN_STACK` next to `pulumi preview --stack`.
 */
import { loadConfigFromFiles } from "../infra/config/load.ts";
import { DEFAULT_RETENTION_FLOOR_DAYS, type PolicyContext } from "./rule-context.ts";

export function loadPolicyContext(stack: string | undefined, projectDir?: string): PolicyContext {
  if (!stack) {
    throw new Error(
      "EVENTCHAIN_STACK is not set: set it to the stack being previewed (prod or dr), e.g. EVENTCHAIN_STACK=prod pulumi preview --stack prod --policy-pack policy",
    );
  }
  // Objective problems are what the rules report; they must not stop the pack from loading.
  const config = loadConfigFromFiles(stack, projectDir, { checkObjectives: false });
  return {
    objectives: config.objectives,
    classification: config.classification,
    role: config.role === "dr" ? "dr" : "primary",
    retentionFloorDays: { ...DEFAULT_RETENTION_FLOOR_DAYS },
  };
}
