/**
 * The program: given a validated `StackConfig`, declares the stack for its role and returns
 * the stack outputs in exactly the `contract/stack-outputs.ts` shape. `dr` (dr.ts) depends on nothing;
 * `prod` (primary.ts) reads what it needs from `dr` through a StackReference (no cycle).
 */
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { MirroredOutputs } from "../components/outputs-mirror.ts";
import type { StackConfig } from "../config/load.ts";
import type { Context, StackOutputsInput } from "./common.ts";
import { buildDr } from "./dr.ts";
import { buildPrimary } from "./primary.ts";

export { ERROR_RATE_ALARM, type Lifted, type StackOutputsInput } from "./common.ts";

/** Declares the stack for `config.role`; returns its outputs. */
export function buildStack(config: StackConfig): StackOutputsInput {
  const tags = { project: "eventchain-dr", stack: config.stack, role: config.role, "managed-by": "pulumi" };
  const provider = new aws.Provider(`aws-${config.region}`, {
    region: config.region as aws.Region,
    defaultTags: { tags },
  });
  const peerProvider = new aws.Provider(`aws-${config.peerRegion}`, {
    region: config.peerRegion as aws.Region,
    defaultTags: { tags },
  });
  const accountId = aws.getCallerIdentityOutput({}, { provider }).accountId;
  const ctx: Context = { c: config, opts: { provider }, peerProvider, accountId };
  const outputs = config.role === "dr" ? buildDr(ctx) : buildPrimary(ctx);
  mirrorOutputs(ctx, outputs);
  return outputs;
}

/**
 * Every `pulumi up` writes the stack's outputs into the DR region's mirror (the dr stack's bucket):
 * the inputs a failover needs exist there before the incident (runbooks/lib/outputs-loader.ts falls back
 * to it when the state backend is unreachable).
 */
function mirrorOutputs(ctx: Context, outputs: StackOutputsInput): void {
  const mirror = pulumi.output(outputs.failover).apply((f) => f.outputsMirror);
  new MirroredOutputs(
    "outputs-mirror-copy",
    {
      stack: ctx.c.stack,
      bucketName: mirror.bucketName,
      kmsKeyArn: mirror.kmsKeyArn,
      outputs: outputs as pulumi.Input<Record<string, unknown>>,
    },
    // The mirror lives in the DR region: dr's own provider, prod's peer provider.
    { provider: ctx.c.role === "dr" ? ctx.opts.provider : ctx.peerProvider },
  );
}
