/** Step factory: point the PRIMARY failover record at a target, wait until INSYNC, read it back. */
import { Route53Client } from "@aws-sdk/client-route-53";
import type { RunContext, Step, StepRef } from "../lib/types.ts";
import { applyRecord, describeUpsert, getFailoverRecord, pointsAt, recordValue, upsertRecord } from "./dns.ts";
import type { WaitOptions } from "../lib/options.ts";

/** UPSERTs the PRIMARY failover record to `target` (with or without its health check) and verifies it. */
export function moveDnsStep<O extends WaitOptions>(p: {
  id: string;
  title: string;
  dependsOn: readonly StepRef<any>[];
  target: (ctx: RunContext<O>) => { value: string; healthCheckId: string | undefined };
}): Step<O> {
  const dnsOf = (ctx: RunContext<O>) => ctx.outputs.dns;
  const record = (ctx: RunContext<O>) => {
    const t = p.target(ctx);
    return upsertRecord(dnsOf(ctx), dnsOf(ctx).primarySetIdentifier, "PRIMARY", t.value, t.healthCheckId);
  };
  const r53 = (ctx: RunContext<O>) => ctx.aws(Route53Client, "us-east-1");
  return {
    id: p.id,
    title: p.title,
    movesTraffic: true,
    milestone: "traffic_moved",
    dependsOn: p.dependsOn,
    describe: (ctx) => [
      describeUpsert(dnsOf(ctx), record(ctx)),
      {
        kind: "aws",
        action: "route53:waitUntilResourceRecordSetsChanged",
        detail: { maxWaitMinutes: ctx.options.maxWaitMinutes },
      },
    ],
    async isDone(ctx) {
      const current = await getFailoverRecord(r53(ctx), dnsOf(ctx), dnsOf(ctx).primarySetIdentifier);
      const t = p.target(ctx);
      return pointsAt(current, t.value) && (current?.HealthCheckId ?? undefined) === t.healthCheckId
        ? { record: dnsOf(ctx).recordName, value: recordValue(current) }
        : false;
    },
    async run(ctx) {
      const before = recordValue(await getFailoverRecord(r53(ctx), dnsOf(ctx), dnsOf(ctx).primarySetIdentifier));
      await ctx.wait("Route 53 change to be INSYNC", () =>
        applyRecord(
          r53(ctx),
          dnsOf(ctx),
          record(ctx),
          `${ctx.runbook} run ${ctx.runId}`,
          ctx.options.maxWaitMinutes,
          ctx.signal,
        ),
      );
      return { record: dnsOf(ctx).recordName, previous: before ?? null, value: p.target(ctx).value };
    },
    async verify(ctx) {
      const current = await getFailoverRecord(r53(ctx), dnsOf(ctx), dnsOf(ctx).primarySetIdentifier);
      if (!pointsAt(current, p.target(ctx).value))
        throw new Error(
          `${dnsOf(ctx).recordName} (${dnsOf(ctx).primarySetIdentifier}) answers ${recordValue(current) ?? "nothing"}, expected ${p.target(ctx).value}`,
        );
    },
  };
}
