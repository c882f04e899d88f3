/**
 * Step factory: point a stack's application at a database — its connection secret (host/port),
 * then a rolling redeploy of the stack's services onto it. region-failover points the DR
 * application at the restored DR database, failback the primary application at the new primary.
 */
import type { StackOutputs } from "../../contract/stack-outputs.ts";
import type { WaitOptions } from "../lib/options.ts";
import type { RunContext, Step, StepRef } from "../lib/types.ts";
import { pointSecretStep } from "./secret-step.ts";
import { describeRoll, rollServices } from "./service-steps.ts";

/** What the step that waited for the database returns: its endpoint (address null while it has none). */
export interface DatabaseEndpoint {
  address: string | null;
  port: number;
}

export function pointAppStep<O extends WaitOptions>(p: {
  id: string;
  title: string;
  /** Must list `database`; the others are further prerequisites (e.g. the services scaled). */
  dependsOn: readonly StepRef<any>[];
  /** The step whose result is the database's endpoint. */
  database: StepRef<DatabaseEndpoint>;
  /** The stack whose application (connection secret, services) is pointed. */
  stack: (ctx: RunContext<O>) => StackOutputs;
}): Step<O> {
  if (!p.dependsOn.includes(p.database))
    throw new Error(`step ${p.id}: dependsOn must list ${p.database.id}, whose result names the database`);
  return pointSecretStep<O>({
    id: p.id,
    title: p.title,
    dependsOn: p.dependsOn,
    secret: (ctx) => ({ arn: p.stack(ctx).database.appConnectionSecretArn, region: p.stack(ctx).region }),
    database: (ctx) => {
      const w = ctx.peek(p.database);
      return w?.address ? { host: w.address, port: w.port } : undefined;
    },
    after: async (ctx) => ({ redeployed: await rollServices(ctx, p.stack(ctx)) }),
    describeAfter: (ctx) => describeRoll(ctx, p.stack(ctx)),
  });
}
