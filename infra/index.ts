/**
 * Pulumi entry point (`main` in Pulumi.yaml). Reads and validates the stack config (bad config
 * stops here, before any resource is registered), builds the stack for its role, and exports
 * the outputs contract (`contract/stack-outputs.ts`) as the stack's top-level outputs: Pulumi takes the
 * resolved properties of an ESM module's default-exported function's result as stack outputs.
 */
import { loadConfig } from "./config/load.ts";
import { buildStack } from "./stacks/program.ts";

export default async function main() {
  return buildStack(loadConfig());
}
