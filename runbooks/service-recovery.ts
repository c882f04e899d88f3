/**
 * Service recovery (the plan's service-recovery.py, fixed): for one service or every service
 * of the stack's cluster, side by side — force a new deployment when no task runs, wait with
 * the `services_stable` waiter (no fixed sleeps between services), and check target-group
 * health. When recovery fails, the failure names the region-failover command to run: moving
 * DNS alone to a pilot-light region with no running tasks would make things worse.
 *
 *   npx zx runbooks/service-recovery.ts --stack prod --service eventchain-backend-prod
 *   npx zx runbooks/service-recovery.ts --stack prod --all
 */
import { ECSClient } from "@aws-sdk/client-ecs";
import { ElasticLoadBalancingV2Client } from "@aws-sdk/client-elastic-load-balancing-v2";
import type { ServiceOutputs, StackOutputs } from "../contract/stack-outputs.ts";
import { snsSinks } from "./aws/alert-topic-sinks.ts";
import { s3RunStore, TRAFFIC_LOCK_SCOPE } from "./aws/journal-store.ts";
import { servicesOf } from "./aws/preflight-checks.ts";
import { parseWaitOptions, WAIT_OPTIONS, type WaitOptions } from "./lib/options.ts";
import { describeServices, setDesiredCount, waitStable, waitTargetsHealthy } from "./aws/services.ts";
import { isMain, runCli } from "./lib/cli.ts";
import { BadInputError, errorMessage } from "./lib/errors.ts";
import { stepFor, type AnyStep, type RawOptions, type RunContext, type Runbook, type StepRef } from "./lib/types.ts";

export interface ServiceRecoveryOptions extends WaitOptions {
  /** One service name, or "all". */
  service: string;
}
type Ctx = RunContext<ServiceRecoveryOptions>;

/** Kebab-case step id fragment for a service name. */
const slug = (name: string) =>
  name
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-|-$/g, "")
    .slice(0, 40);

export function selectServices(outputs: StackOutputs, service: string): ServiceOutputs[] {
  const known = outputs.services.services;
  if (service === "all") return known;
  const found = known.find((s) => s.name === service);
  if (!found)
    throw new BadInputError(
      `unknown --service "${service}" in cluster ${outputs.services.clusterName}: expected one of ${known.map((s) => s.name).join(", ")} (or --all)`,
    );
  return [found];
}

function failoverOffer(ctx: Ctx): string {
  return ctx.outputs.role === "primary"
    ? `If the service cannot be recovered here, fail over the region (restores the database in DR, scales DR, then moves DNS): npx zx runbooks/region-failover.ts --stack ${ctx.outputs.stack} --force`
    : `This is the DR stack (${ctx.outputs.stack}); there is no further region to fail over to.`;
}

const step = stepFor<ServiceRecoveryOptions>();

/** What a restart step records: the counts it saw or set, and why it did nothing when it did nothing. */
interface RestartResult {
  service: string;
  desiredCount: number | undefined;
  runningCount: number | undefined;
  previousDesired?: number;
  note?: string;
}

function serviceSteps(svc: ServiceOutputs, inspect: StepRef<any>): AnyStep<ServiceRecoveryOptions>[] {
  const live = async (ctx: Ctx) =>
    (await describeServices(ctx.aws(ECSClient, ctx.outputs.region), ctx.outputs.services.clusterName, [svc.name]))[0]!;
  const restart = step({
    id: `restart-${slug(svc.name)}`,
    title: `Restart ${svc.name} if no task runs`,
    dependsOn: [inspect],
    describe: (ctx) => [
      {
        kind: "aws",
        action: `ecs:UpdateService (${ctx.outputs.region}) if runningCount is 0`,
        detail: {
          cluster: ctx.outputs.services.clusterName,
          service: svc.name,
          forceNewDeployment: true,
          desiredCount: `current, or ${svc.recoveryCount} if 0`,
        },
      },
      {
        kind: "aws",
        action: `ecs:waitUntilServicesStable (${ctx.outputs.region})`,
        detail: { services: [svc.name], maxWaitMinutes: ctx.options.maxWaitMinutes },
      },
    ],
    async isDone(ctx) {
      const s = await live(ctx);
      return (s.runningCount ?? 0) > 0 && (s.desiredCount ?? 0) > 0
        ? {
            service: svc.name,
            runningCount: s.runningCount,
            desiredCount: s.desiredCount,
            note: "tasks running: no restart",
          }
        : false;
    },
    async run(ctx): Promise<RestartResult> {
      const ecs = ctx.aws(ECSClient, ctx.outputs.region);
      const before = await live(ctx);
      const desired = (before.desiredCount ?? 0) > 0 ? before.desiredCount! : svc.recoveryCount;
      await setDesiredCount(ecs, ctx.outputs.services.clusterName, svc.name, desired, true);
      try {
        await ctx.wait(`${svc.name} to become stable`, () =>
          waitStable(ecs, ctx.outputs.services.clusterName, [svc.name], ctx.options.maxWaitMinutes, ctx.signal),
        );
      } catch (error) {
        throw new Error(
          `${svc.name} did not become stable within ${ctx.options.maxWaitMinutes} min (${errorMessage(error)}). ${failoverOffer(ctx)}`,
          { cause: error },
        );
      }
      const after = await live(ctx);
      return {
        service: svc.name,
        previousDesired: before.desiredCount ?? 0,
        desiredCount: after.desiredCount,
        runningCount: after.runningCount,
      };
    },
  });
  const check = step({
    id: `check-${slug(svc.name)}`,
    title: `Check ${svc.name} targets are healthy`,
    dependsOn: [restart],
    describe: (ctx) => [
      {
        kind: "aws",
        action: `elbv2:DescribeTargetHealth (${ctx.outputs.region})`,
        detail: { TargetGroupArn: svc.targetGroupArn, attempts: ctx.options.healthAttempts },
      },
    ],
    async run(ctx) {
      try {
        const [h] = await ctx.wait(`${svc.name} healthy targets`, () =>
          waitTargetsHealthy(
            ctx.aws(ElasticLoadBalancingV2Client, ctx.outputs.region),
            [svc.targetGroupArn],
            ctx.options.healthAttempts,
          ),
        );
        return { service: svc.name, healthy: h!.healthy, total: h!.total };
      } catch (error) {
        throw new Error(`${svc.name}: ${(error as Error).message}. ${failoverOffer(ctx)}`, { cause: error });
      }
    },
  });
  return [restart, check];
}

export const runbook: Runbook<ServiceRecoveryOptions> = {
  name: "service-recovery",
  summary: "Recover one ECS service or all of them: restart when no task runs, wait for stability, check target health",
  system: "core-api",
  options: {
    service: { type: "string", description: "Service name to recover (see the stack's services outputs)" },
    all: { type: "boolean", description: "Recover every service of the stack's cluster, side by side" },
    ...WAIT_OPTIONS,
  },
  parseOptions(raw: RawOptions) {
    const one = typeof raw.service === "string" ? raw.service : undefined;
    if (one !== undefined && raw.all === true)
      throw new BadInputError("give either --service <name> or --all, not both");
    if (one === undefined && raw.all !== true)
      throw new BadInputError("missing target: give --service <name> or --all");
    if (one !== undefined && !/^[A-Za-z0-9][A-Za-z0-9_-]{0,254}$/.test(one))
      throw new BadInputError(`invalid --service "${one}": expected an ECS service name (letters, digits, "-", "_")`);
    return { ...parseWaitOptions(raw), service: one ?? "all" };
  },
  // The cluster, the selected services and their target groups (an unknown --service is refused by `steps`).
  preflight: (ctx) => servicesOf(ctx, ctx.outputs, selectServices(ctx.outputs, ctx.options.service)),
  sharedStore: s3RunStore,
  lockScope: TRAFFIC_LOCK_SCOPE,
  steps(options, outputs) {
    const services = selectServices(outputs, options.service);
    const inspect = step({
      id: "inspect",
      dependsOn: [],
      title: "Inspect the services",
      readOnly: true,
      describe: (ctx) => [
        {
          kind: "aws",
          action: `ecs:DescribeServices (${ctx.outputs.region})`,
          detail: { cluster: ctx.outputs.services.clusterName, services: services.map((s) => s.name) },
        },
      ],
      async run(ctx) {
        const live = await describeServices(
          ctx.aws(ECSClient, ctx.outputs.region),
          ctx.outputs.services.clusterName,
          services.map((s) => s.name),
        );
        return {
          services: live.map((s) => ({
            name: s.serviceName,
            status: s.status,
            desiredCount: s.desiredCount,
            runningCount: s.runningCount,
            pendingCount: s.pendingCount,
          })),
        };
      },
    });
    return [inspect, ...services.flatMap((svc) => serviceSteps(svc, inspect))];
  },
  nextSteps: (ctx) => [
    `Watch ${ctx.outputs.services.errorRateAlarmName} and the service events (aws ecs describe-services) for the next hour.`,
    "Find the cause (deployment, dependency, capacity) before closing the incident.",
  ],
  checklist: () => ["Root cause identified", "Alarm thresholds still right", "Post-incident review scheduled"],
};

if (isMain(import.meta.url)) await runCli(runbook, { sinks: snsSinks });
