/**
 * Fencing the old primary's writers once traffic is on DR: every primary ECS service to desired
 * count 0, and the primary database's security groups set to the fence group (declared by the
 * prod stack, admits nothing), so no new connection reaches it. The fence is recorded on the
 * instance first (tags `eventchain:fenced-by` = the run id, `eventchain:fenced-at`; contract/fence-record.ts):
 * the prod stack's program reads the record and keeps the fence, so a `pulumi up` cannot lift it.
 * Each call is bounded; nothing is deleted; the database keeps every write it took, for
 * reconciliation. When the primary region does not answer, the result says what could not be
 * fenced ("primary not fenced").
 */
import { DescribeServicesCommand, ECSClient, UpdateServiceCommand } from "@aws-sdk/client-ecs";
import { AddTagsToResourceCommand, ModifyDBInstanceCommand, RDSClient, type DBInstance } from "@aws-sdk/client-rds";
import { fenceStateOf, fenceTags, sameGroups, type LiveDatabase } from "../../contract/fence-record.ts";
import { describeInstance } from "./rds.ts";
import type { StackOutputs } from "../../contract/stack-outputs.ts";
import type { PlannedAction, RunContext, Step, StepRef } from "../lib/types.ts";
import { bounded, boundedOrThrow } from "./bounded.ts";

export const NOT_FENCED = "primary not fenced";
/** How long `isDone` looks before treating the primary as not (yet) fenced. */
const IS_DONE_MS = 2000;

export interface FenceResult {
  fenced: boolean;
  services: { name: string; result: string }[];
  database: {
    instance: string;
    result: string;
    previousSecurityGroups: string[] | null;
    /** The fence record on the instance (contract/fence-record.ts), or null when it could not be read or written. */
    fencedBy: string | null;
  };
  /** What could not be fenced and why, one line each. */
  unreachable: string[];
  /** Set when not fenced: qualifies the run's verdict. */
  caveat?: string;
  [key: string]: unknown;
}

export function describeFence(prod: StackOutputs, boundSeconds: number): PlannedAction[] {
  return [
    ...prod.services.services.map((s) => ({
      kind: "aws" as const,
      action: `ecs:UpdateService (${prod.region}, bounded)`,
      detail: { cluster: prod.services.clusterName, service: s.name, desiredCount: 0, boundSeconds },
    })),
    {
      kind: "aws",
      action: `rds:AddTagsToResource (${prod.region}, bounded)`,
      detail: {
        ResourceName: prod.database.instanceArn ?? prod.database.instanceIdentifier,
        Tags: "eventchain:fenced-by = this run's id, eventchain:fenced-at = now (the record the prod stack keeps the fence by)",
        boundSeconds,
      },
    },
    {
      kind: "aws",
      action: `rds:ModifyDBInstance (${prod.region}, bounded)`,
      detail: {
        DBInstanceIdentifier: prod.database.instanceIdentifier,
        VpcSecurityGroupIds: prod.failover.fenceSecurityGroupIds,
        ApplyImmediately: true,
        boundSeconds,
      },
    },
  ];
}

/** The instance as contract/fence-record.ts reads it. */
export const liveOf = (id: string, i: DBInstance): LiveDatabase => ({
  identifier: id,
  tags: Object.fromEntries((i.TagList ?? []).map((t) => [t.Key ?? "", t.Value ?? ""])),
  securityGroupIds: (i.VpcSecurityGroups ?? []).map((g) => g.VpcSecurityGroupId ?? "").filter(Boolean),
});

/** Fences the primary described by `prod`; every call within `boundMs`; never throws for a region that does not answer. */
export async function fencePrimary(
  ctx: RunContext<unknown>,
  prod: StackOutputs,
  boundMs: number,
): Promise<FenceResult> {
  const ecs = ctx.aws(ECSClient, prod.region);
  const rds = ctx.aws(RDSClient, prod.region);
  const unreachable: string[] = [];
  // Services and database side by side: an unreachable region costs one bound, not two.
  const [services, database] = await Promise.all([
    Promise.all(
      prod.services.services.map(async (s) => {
        const r = await bounded(
          `ecs UpdateService ${s.name} desiredCount 0 (${prod.region})`,
          boundMs,
          (abortSignal) =>
            ecs.send(
              new UpdateServiceCommand({ cluster: prod.services.clusterName, service: s.name, desiredCount: 0 }),
              { abortSignal },
            ),
          ctx.signal,
        );
        if (!r.ok) unreachable.push(r.error);
        return { name: s.name, result: r.ok ? "desired count 0" : `not stopped: ${r.error}` };
      }),
    ),
    fenceDatabase(ctx, rds, prod, boundMs).catch((error: Error) => {
      unreachable.push(error.message);
      return {
        instance: prod.database.instanceIdentifier,
        result: `not fenced: ${error.message}`,
        previousSecurityGroups: null,
        fencedBy: null,
      };
    }),
  ]);
  const fenced = unreachable.length === 0;
  return {
    fenced,
    services,
    database,
    unreachable,
    ...(fenced
      ? {}
      : {
          caveat:
            `${NOT_FENCED}: ${unreachable.length} call(s) to ${prod.region} did not succeed; run npx zx ` +
            `runbooks/fence-primary.ts --stack ${prod.stack} as soon as ${prod.region} answers (failback fences ` +
            `first too)`,
        }),
  };
}

async function fenceDatabase(ctx: RunContext<unknown>, rds: RDSClient, prod: StackOutputs, boundMs: number) {
  const id = prod.database.instanceIdentifier;
  const fence = prod.failover.fenceSecurityGroupIds;
  if (fence.length === 0)
    throw new Error(
      `no fence security group in the ${prod.stack} outputs (failover.fenceSecurityGroupIds): deploy ${prod.stack} with this version; ${id} still accepts connections`,
    );
  const current = await boundedOrThrow(
    `rds DescribeDBInstances ${id} (${prod.region})`,
    boundMs,
    (abortSignal) => describeInstance(rds, id, abortSignal),
    ctx.signal,
  );
  if (!current) throw new Error(`${id} does not exist in ${prod.region}: nothing to fence there`);
  const live = liveOf(id, current);
  const groups = live.securityGroupIds;
  const state = fenceStateOf(live, fence);
  // The record first: were the next call lost, the prod stack still keeps the fence (and an up finishes it).
  let fencedBy: string;
  if (state.fenced && state.recorded) fencedBy = state.by;
  else {
    fencedBy = ctx.runId;
    const record = fenceTags(ctx.runId, new Date());
    await boundedOrThrow(
      `rds AddTagsToResource ${id} ${Object.keys(record).join(",")} (${prod.region})`,
      boundMs,
      (abortSignal) =>
        rds.send(
          new AddTagsToResourceCommand({
            ResourceName: current.DBInstanceArn ?? id,
            Tags: Object.entries(record).map(([Key, Value]) => ({ Key, Value })),
          }),
          { abortSignal },
        ),
      ctx.signal,
    );
  }
  if (sameGroups(groups, fence))
    return {
      instance: id,
      result: state.fenced && state.recorded ? "already fenced" : `already on the fence; fence recorded (${fencedBy})`,
      previousSecurityGroups: null,
      fencedBy,
    };
  await boundedOrThrow(
    `rds ModifyDBInstance ${id} VpcSecurityGroupIds ${fence.join(",")} (${prod.region})`,
    boundMs,
    (abortSignal) =>
      rds.send(
        new ModifyDBInstanceCommand({ DBInstanceIdentifier: id, VpcSecurityGroupIds: fence, ApplyImmediately: true }),
        { abortSignal },
      ),
    ctx.signal,
  );
  return {
    instance: id,
    result: `security groups set to the fence ${fence.join(", ")}: no new connections (fence recorded: ${fencedBy})`,
    previousSecurityGroups: groups,
    fencedBy,
  };
}

/**
 * Whether the primary is fenced already, and recorded (bounded reads; false when it does not
 * answer): services at 0, the database on the fence group with its fence record.
 */
export async function isFenced(
  ctx: RunContext<unknown>,
  prod: StackOutputs,
  boundMs: number,
): Promise<false | { fencedBy: string }> {
  const [svc, db] = await Promise.all([
    bounded(
      `ecs DescribeServices (${prod.region})`,
      boundMs,
      async (abortSignal) =>
        (
          await ctx.aws(ECSClient, prod.region).send(
            new DescribeServicesCommand({
              cluster: prod.services.clusterName,
              services: prod.services.services.map((s) => s.name),
            }),
            { abortSignal },
          )
        ).services ?? [],
      ctx.signal,
    ),
    bounded(
      `rds DescribeDBInstances (${prod.region})`,
      boundMs,
      (abortSignal) => describeInstance(ctx.aws(RDSClient, prod.region), prod.database.instanceIdentifier, abortSignal),
      ctx.signal,
    ),
  ]);
  if (!svc.ok || !db.ok || !db.value || prod.failover.fenceSecurityGroupIds.length === 0) return false;
  const live = liveOf(prod.database.instanceIdentifier, db.value);
  const state = fenceStateOf(live, prod.failover.fenceSecurityGroupIds);
  if (
    !(state.fenced && state.recorded) ||
    !sameGroups(live.securityGroupIds, prod.failover.fenceSecurityGroupIds) ||
    svc.value.length !== prod.services.services.length ||
    !svc.value.every((s) => (s.desiredCount ?? 0) === 0)
  )
    return false;
  return { fencedBy: state.by };
}

/**
 * The fence as a step. `required`: fail the step when the primary cannot be fenced (failback,
 * fence-primary); otherwise report "primary not fenced" and let the run go on (region-failover,
 * after traffic is on DR).
 */
export function fencePrimaryStep<O>(p: {
  id: string;
  title: string;
  dependsOn: readonly StepRef<any>[];
  required: boolean;
  boundSeconds: (ctx: RunContext<O>) => number;
}): Step<O, FenceResult> {
  return {
    id: p.id,
    title: p.title,
    destructive: true,
    dependsOn: p.dependsOn,
    describe: (ctx) => describeFence(ctx.outputs, p.boundSeconds(ctx)),
    async isDone(ctx) {
      // A quick look only (a healthy primary answers in milliseconds): an unreachable one should
      // not cost a full bound twice, here and in run.
      const done = await isFenced(ctx, ctx.outputs, Math.min(p.boundSeconds(ctx) * 1000, IS_DONE_MS));
      return done
        ? {
            fenced: true,
            services: ctx.outputs.services.services.map((s) => ({ name: s.name, result: "desired count 0" })),
            database: {
              instance: ctx.outputs.database.instanceIdentifier,
              result: "already fenced",
              previousSecurityGroups: null,
              fencedBy: done.fencedBy,
            },
            unreachable: [],
          }
        : false;
    },
    async run(ctx) {
      const r = await fencePrimary(ctx, ctx.outputs, p.boundSeconds(ctx) * 1000);
      if (!r.fenced) {
        if (p.required)
          throw new Error(
            `${NOT_FENCED}: ${r.unreachable.join("; ")}. Nothing after this step ran; resume when ${ctx.outputs.region} answers`,
          );
        ctx.log.warn(`${NOT_FENCED}: ${r.unreachable.join("; ")}`);
      }
      return r;
    },
  };
}
