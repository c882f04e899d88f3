/** Step factories: scale a stack's services to their recovery counts; wait for healthy targets. */
import { ECSClient } from "@aws-sdk/client-ecs";
import { ElasticLoadBalancingV2Client } from "@aws-sdk/client-elastic-load-balancing-v2";
import type { StackOutputs } from "../../contract/stack-outputs.ts";
import type { PlannedAction, RunContext, Step, StepRef } from "../lib/types.ts";
import type { WaitOptions } from "../lib/options.ts";
import { describeServices, forceRedeploy, setDesiredCount, waitStable, waitTargetsHealthy } from "./services.ts";

/** Which stack a step acts on (the selected one or its peer). */
type StackOf<O> = (ctx: RunContext<O>) => StackOutputs;

/** Sets each service's desired count to its recovery count (side by side), then waits for stability. */
export function scaleServicesStep<O extends WaitOptions>(p: {
  id: string;
  title: string;
  dependsOn: readonly StepRef<any>[];
  stack: StackOf<O>;
}): Step<O> {
  return {
    id: p.id,
    title: p.title,
    dependsOn: p.dependsOn,
    describe: (ctx) => {
      const s = p.stack(ctx);
      return [
        ...s.services.services.map((svc) => ({
          kind: "aws" as const,
          action: `ecs:UpdateService (${s.region})`,
          detail: { cluster: s.services.clusterName, service: svc.name, desiredCount: svc.recoveryCount },
        })),
        {
          kind: "aws",
          action: `ecs:waitUntilServicesStable (${s.region})`,
          detail: { services: s.services.services.map((x) => x.name), maxWaitMinutes: ctx.options.maxWaitMinutes },
        },
      ];
    },
    async isDone(ctx) {
      const s = p.stack(ctx);
      const live = await describeServices(
        ctx.aws(ECSClient, s.region),
        s.services.clusterName,
        s.services.services.map((x) => x.name),
      );
      const ok = s.services.services.every((svc) => {
        const l = live.find((x) => x.serviceName === svc.name);
        return l && (l.desiredCount ?? 0) >= svc.recoveryCount && (l.runningCount ?? 0) >= svc.recoveryCount;
      });
      return ok
        ? {
            services: live.map((l) => ({
              name: l.serviceName,
              desiredCount: l.desiredCount,
              runningCount: l.runningCount,
            })),
          }
        : false;
    },
    async run(ctx) {
      const s = p.stack(ctx);
      const ecs = ctx.aws(ECSClient, s.region);
      await Promise.all(
        s.services.services.map((svc) => setDesiredCount(ecs, s.services.clusterName, svc.name, svc.recoveryCount)),
      );
      await ctx.wait(`services in ${s.services.clusterName} to become stable`, () =>
        waitStable(
          ecs,
          s.services.clusterName,
          s.services.services.map((x) => x.name),
          ctx.options.maxWaitMinutes,
          ctx.signal,
        ),
      );
      const live = await describeServices(
        ecs,
        s.services.clusterName,
        s.services.services.map((x) => x.name),
      );
      return {
        services: live.map((l) => ({
          name: l.serviceName,
          desiredCount: l.desiredCount,
          runningCount: l.runningCount,
        })),
      };
    },
    async verify(ctx) {
      const s = p.stack(ctx);
      const live = await describeServices(
        ctx.aws(ECSClient, s.region),
        s.services.clusterName,
        s.services.services.map((x) => x.name),
      );
      const short = s.services.services.filter(
        (svc) => (live.find((l) => l.serviceName === svc.name)?.desiredCount ?? 0) < svc.recoveryCount,
      );
      if (short.length)
        throw new Error(`desired count below recovery count for ${short.map((x) => x.name).join(", ")}`);
    },
  };
}

/** Every service's target group has a healthy target (retries with backoff). */
export function verifyTargetsStep<O extends WaitOptions>(p: {
  id: string;
  title: string;
  dependsOn: readonly StepRef<any>[];
  stack: StackOf<O>;
  milestone?: string;
  /** Re-checked right before a later traffic-moving step (see `Step.gate`). */
  gate?: boolean;
}): Step<O> {
  return {
    id: p.id,
    title: p.title,
    dependsOn: p.dependsOn,
    ...(p.milestone ? { milestone: p.milestone } : {}),
    ...(p.gate ? { gate: true } : {}),
    describe: (ctx) =>
      p.stack(ctx).services.services.map((svc) => ({
        kind: "aws" as const,
        action: `elbv2:DescribeTargetHealth (${p.stack(ctx).region})`,
        detail: { TargetGroupArn: svc.targetGroupArn, attempts: ctx.options.healthAttempts },
      })),
    async run(ctx) {
      const s = p.stack(ctx);
      const health = await ctx.wait("healthy targets", () =>
        waitTargetsHealthy(
          ctx.aws(ElasticLoadBalancingV2Client, s.region),
          s.services.services.map((x) => x.targetGroupArn),
          ctx.options.healthAttempts,
        ),
      );
      return { targets: health.map((h) => ({ targetGroupArn: h.targetGroupArn, healthy: h.healthy, total: h.total })) };
    },
  };
}

/** Rolls every service of `stack` (new deployment, same desired count) so tasks re-read their connection secret; waits for stability. */
export async function rollServices<O extends WaitOptions>(ctx: RunContext<O>, stack: StackOutputs): Promise<string[]> {
  const ecs = ctx.aws(ECSClient, stack.region);
  const names = stack.services.services.map((s) => s.name);
  await Promise.all(names.map((name) => forceRedeploy(ecs, stack.services.clusterName, name)));
  await ctx.wait(`services in ${stack.services.clusterName} to roll onto the new connection settings`, () =>
    waitStable(ecs, stack.services.clusterName, names, ctx.options.maxWaitMinutes, ctx.signal),
  );
  return names;
}

/** Planned actions of `rollServices`. */
export function describeRoll<O extends WaitOptions>(ctx: RunContext<O>, stack: StackOutputs): PlannedAction[] {
  return [
    ...stack.services.services.map((s) => ({
      kind: "aws" as const,
      action: `ecs:UpdateService (${stack.region})`,
      detail: { cluster: stack.services.clusterName, service: s.name, forceNewDeployment: true },
    })),
    {
      kind: "aws",
      action: `ecs:waitUntilServicesStable (${stack.region})`,
      detail: { maxWaitMinutes: ctx.options.maxWaitMinutes },
    },
  ];
}
