/**
 * Step factories for the failover switch: set it (engage: clients to DR; disengage: clients back
 * to the primary), then prove from the DNS data plane that the record answers the new target.
 * Only DR-region CloudWatch and the zone's authoritative name servers are called.
 */
import { CloudWatchClient } from "@aws-sdk/client-cloudwatch";
import type { RunContext, Step, StepRef } from "../lib/types.ts";
import { waitForAuthoritativeAnswer, type ClientsMoved } from "./authoritative-dns.ts";
import { describeSwitch, positionOf, setSwitch, switchAlarm, switchOf, type SwitchPosition } from "./switch.ts";

interface SwitchStepResult {
  position: SwitchPosition | "records-fail-over-by-themselves";
  alarm: string;
  region: string;
  alarmAt: string | null;
  writes: number;
  note?: string;
}

/** Sets the switch to `position` and waits (bounded by the switch's detection time) until its alarm shows it. */
export function switchStep<O>(p: {
  id: string;
  title: string;
  dependsOn: readonly StepRef<any>[];
  position: SwitchPosition;
  milestone?: string;
}): Step<O, SwitchStepResult> {
  const spec = (ctx: RunContext<O>) => ctx.outputs.failover.switch;
  const cw = (ctx: RunContext<O>) => ctx.aws(CloudWatchClient, spec(ctx).region);
  return {
    id: p.id,
    title: p.title,
    movesTraffic: true,
    dependsOn: p.dependsOn,
    ...(p.milestone ? { milestone: p.milestone } : {}),
    describe: (ctx) =>
      !switchOf(ctx.outputs)
        ? [
            {
              kind: "note",
              action: "nothing to set: the records fail over on the endpoint health check (failover mode automatic)",
            },
          ]
        : describeSwitch(spec(ctx), p.position, spec(ctx).detectionSeconds),
    async isDone(ctx) {
      if (!switchOf(ctx.outputs)) return false;
      const alarm = await switchAlarm(cw(ctx), spec(ctx), ctx.signal);
      return positionOf(alarm) === p.position
        ? {
            position: p.position,
            alarm: spec(ctx).alarmName,
            region: spec(ctx).region,
            alarmAt: alarm.StateUpdatedTimestamp?.toISOString() ?? null,
            writes: 0,
            note: `already ${p.position}`,
          }
        : false;
    },
    async run(ctx): Promise<SwitchStepResult> {
      const sw = spec(ctx);
      if (!switchOf(ctx.outputs))
        return {
          position: "records-fail-over-by-themselves",
          alarm: sw.alarmName,
          region: sw.region,
          alarmAt: null,
          writes: 0,
          note: "failover mode automatic: the PRIMARY record carries the endpoint health check, the switch moves nothing",
        };
      const r = await ctx.wait(`failover switch alarm ${sw.alarmName} to show ${p.position}`, () =>
        setSwitch(cw(ctx), sw, p.position, sw.detectionSeconds * 1000, ctx.signal),
      );
      ctx.log.info(`failover switch ${p.position} (${sw.alarmName} in ${sw.region}, ${r.alarmAt})`);
      return { ...r };
    },
    async verify(ctx, out) {
      if (out.position === "records-fail-over-by-themselves") return;
      const alarm = await switchAlarm(cw(ctx), spec(ctx), ctx.signal);
      if (positionOf(alarm) !== p.position)
        throw new Error(`failover switch alarm ${spec(ctx).alarmName} is ${alarm.StateValue}, expected ${p.position}`);
    },
  };
}

/**
 * Resolves the record at the zone's authoritative name servers until they answer `target`,
 * bounded by the switch's detection time plus the TTL; reports when clients moved.
 */
export function clientsMovedStep<O>(p: {
  id: string;
  title: string;
  dependsOn: readonly StepRef<any>[];
  target: (ctx: RunContext<O>) => string;
  milestone?: string;
}): Step<O, ClientsMoved & Record<string, unknown>> {
  const boundSeconds = (ctx: RunContext<O>) => ctx.outputs.failover.switch.detectionSeconds + ctx.outputs.dns.ttl;
  return {
    id: p.id,
    title: p.title,
    dependsOn: p.dependsOn,
    ...(p.milestone ? { milestone: p.milestone } : {}),
    describe: (ctx) => [
      {
        kind: "command",
        action: `DNS query ${ctx.outputs.dns.recordName} ${ctx.outputs.dns.recordType} at each authoritative name server until it answers ${ctx.outputs.dns.recordType === "A" ? "addresses of " : ""}${p.target(ctx)}`,
        detail: { nameServers: ctx.outputs.failover.nameServers, boundSeconds: boundSeconds(ctx) },
      },
    ],
    async run(ctx) {
      const moved = await ctx.wait(
        `${ctx.outputs.dns.recordName} to answer ${p.target(ctx)} at the authoritative name servers`,
        () =>
          waitForAuthoritativeAnswer({
            nameServers: ctx.outputs.failover.nameServers,
            record: ctx.outputs.dns.recordName,
            recordType: ctx.outputs.dns.recordType,
            expected: p.target(ctx),
            ttlSeconds: ctx.outputs.dns.ttl,
            boundMs: boundSeconds(ctx) * 1000,
            signal: ctx.signal,
          }),
      );
      ctx.log.info(
        `${moved.record} answers ${moved.expected} at the authoritative name servers since ${moved.answeredAt}; clients honouring the ${ctx.outputs.dns.ttl} s TTL moved by ${moved.clientsMovedBy}`,
      );
      return { ...moved };
    },
  };
}
