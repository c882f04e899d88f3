/**
 * ECS and ELBv2 helpers: describe, scale, wait for stability, target health. Every update is
 * sent once (`sendIdempotent`): after a lost answer the service is read back before re-sending,
 * so a retry never makes a second deployment or a second count change.
 */
import { sendIdempotent } from "../lib/aws.ts";
import { waiterTiming } from "./waiters.ts";
import {
  DescribeServicesCommand,
  UpdateServiceCommand,
  waitUntilServicesStable,
  type ECSClient,
  type Service,
} from "@aws-sdk/client-ecs";
import {
  DescribeTargetHealthCommand,
  type ElasticLoadBalancingV2Client,
} from "@aws-sdk/client-elastic-load-balancing-v2";
import { expBackoff, retry } from "zx";

export async function describeServices(ecs: ECSClient, cluster: string, names: string[]): Promise<Service[]> {
  const out: Service[] = [];
  for (let i = 0; i < names.length; i += 10) {
    const res = await ecs.send(new DescribeServicesCommand({ cluster, services: names.slice(i, i + 10) }));
    const missing = (res.failures ?? []).map((f) => `${f.arn}: ${f.reason}`);
    if (missing.length) throw new Error(`ECS services not found in cluster ${cluster}: ${missing.join(", ")}`);
    out.push(...(res.services ?? []));
  }
  return out;
}

/** The id of the service's PRIMARY deployment (the one a forced deployment replaces), and its start. */
export async function primaryDeployment(
  ecs: ECSClient,
  cluster: string,
  service: string,
): Promise<{ id: string | undefined; createdAt: Date | undefined; desiredCount: number | undefined }> {
  const [s] = await describeServices(ecs, cluster, [service]);
  const d = s?.deployments?.find((x) => x.status === "PRIMARY");
  return { id: d?.id, createdAt: d?.createdAt, desiredCount: s?.desiredCount };
}

/**
 * Sets the desired count (and, with `forceNewDeployment`, starts a new deployment) exactly once:
 * a retry after a lost answer first checks whether the count is set (and a new deployment replaced
 * the one seen before the call).
 */
export async function setDesiredCount(
  ecs: ECSClient,
  cluster: string,
  service: string,
  desiredCount: number,
  forceNewDeployment = false,
): Promise<void> {
  const before = forceNewDeployment ? await primaryDeployment(ecs, cluster, service) : undefined;
  await sendIdempotent(
    ecs,
    new UpdateServiceCommand({ cluster, service, desiredCount, forceNewDeployment }),
    async () => {
      const now = await primaryDeployment(ecs, cluster, service);
      const counted = now.desiredCount === desiredCount;
      return counted && (!before || (now.id !== undefined && now.id !== before.id)) ? {} : undefined;
    },
  );
}

/** Starts a new deployment without changing the desired count (tasks re-read their secrets), exactly once. */
export async function forceRedeploy(ecs: ECSClient, cluster: string, service: string): Promise<void> {
  const before = await primaryDeployment(ecs, cluster, service);
  await sendIdempotent(ecs, new UpdateServiceCommand({ cluster, service, forceNewDeployment: true }), async () => {
    const now = await primaryDeployment(ecs, cluster, service);
    return now.id !== undefined && now.id !== before.id ? {} : undefined;
  });
}

/** SDK waiter `services_stable`, bounded by `maxWaitMinutes`. */
export async function waitStable(
  ecs: ECSClient,
  cluster: string,
  services: string[],
  maxWaitMinutes: number,
  signal?: AbortSignal,
): Promise<void> {
  for (let i = 0; i < services.length; i += 10) {
    await waitUntilServicesStable(
      { client: ecs, ...waiterTiming(maxWaitMinutes, 15, 60, signal) },
      { cluster, services: services.slice(i, i + 10) },
    );
  }
}

/** zx's exponential backoff (2 s doubling, ≤ 30 s) with no pointless sleep after the last attempt. */
export function* backoff(attempts: number, max: `${number}s` = "30s", first: `${number}s` = "2s"): Generator<number> {
  const exp = expBackoff(max, first);
  for (let i = 1; i < attempts; i++) yield exp.next().value as number;
  for (;;) yield 0;
}

export interface TargetHealth {
  targetGroupArn: string;
  healthy: number;
  total: number;
  states: string[];
}

export async function targetHealth(elb: ElasticLoadBalancingV2Client, targetGroupArn: string): Promise<TargetHealth> {
  const res = await elb.send(new DescribeTargetHealthCommand({ TargetGroupArn: targetGroupArn }));
  const states = (res.TargetHealthDescriptions ?? []).map((d) => d.TargetHealth?.State ?? "unknown");
  return { targetGroupArn, healthy: states.filter((s) => s === "healthy").length, total: states.length, states };
}

/** Retries (exponential backoff, ≤ 30 s apart) until every group has a healthy target; throws naming the unhealthy groups. */
export async function waitTargetsHealthy(
  elb: ElasticLoadBalancingV2Client,
  targetGroupArns: string[],
  attempts: number,
): Promise<TargetHealth[]> {
  let last: TargetHealth[] = [];
  try {
    return await retry(attempts, backoff(attempts), async () => {
      last = await Promise.all(targetGroupArns.map((arn) => targetHealth(elb, arn)));
      const bad = last.filter((h) => h.healthy === 0);
      if (bad.length)
        throw new Error(
          bad
            .map((h) => `${h.targetGroupArn} has no healthy target (${h.states.join(", ") || "no targets"})`)
            .join("; "),
        );
      return last;
    });
  } catch (error) {
    throw new Error(`target health not reached after ${attempts} check(s): ${(error as Error).message}`, {
      cause: error,
    });
  }
}
