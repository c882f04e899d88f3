/**
 * database-recovery's restore: pick the latest restorable point (or an instance recovered
 * already), restore into a new instance with the stack's settings, wait and verify.
 */
import { RDSClient, RestoreDBInstanceToPointInTimeCommand } from "@aws-sdk/client-rds";
import type { PlannedAction, RunContext, Step } from "../lib/types.ts";
import type { WaitOptions } from "../lib/options.ts";
import {
  checkInstance,
  describeInstance,
  latestRestorePoint,
  restoredIdentifier,
  settingsFromOutputs,
  tags,
  waitInstanceAvailable,
  type RestorePoint,
} from "./rds.ts";

export interface DatabaseRecoveryOptions extends WaitOptions {
  /** Repoint to this already-recovered instance instead of restoring (e.g. after point-in-time-restore). */
  useInstance: string | undefined;
}
export type Ctx = RunContext<DatabaseRecoveryOptions>;
export type Point = (
  | RestorePoint
  | { method: "existing-instance"; restoreTime: string | null; recoveryPointAt?: string; recoveryPointSource?: string }
) & { targetId: string };

export const rdsOf = (ctx: Ctx) => ctx.aws(RDSClient, ctx.outputs.region);
export const db = (ctx: Ctx) => ctx.outputs.database;
export const target = (ctx: Ctx) =>
  ctx.peek<Point>("pick-restore-point")?.targetId ?? ctx.options.useInstance ?? "<source>-rec-<restore time>";

/** pick-restore-point → restore → wait-restored. */
export const restoreSteps: Step<DatabaseRecoveryOptions>[] = [
  {
    id: "pick-restore-point",
    title: "Pick the latest restorable point",
    readOnly: true,
    milestone: "backup_identified",
    describe: (ctx) => [
      {
        kind: "aws",
        action: `rds:DescribeDBInstances / DescribeDBInstanceAutomatedBackups (${ctx.outputs.region})`,
        detail: { DBInstanceIdentifier: db(ctx).instanceIdentifier, DbiResourceId: db(ctx).resourceId },
      },
    ],
    async run(ctx): Promise<Point> {
      if (ctx.options.useInstance) {
        const u = (await describeInstance(rdsOf(ctx), ctx.options.useInstance))!;
        const tagged = u.TagList?.find((t) => t.Key === "eventchain:restore-time")?.Value;
        return {
          method: "existing-instance",
          targetId: ctx.options.useInstance,
          restoreTime: tagged ?? null,
          ...(tagged
            ? { recoveryPointAt: tagged, recoveryPointSource: `restore time of ${ctx.options.useInstance}` }
            : {}),
        };
      }
      const point = await latestRestorePoint(rdsOf(ctx), db(ctx).instanceIdentifier, db(ctx).resourceId);
      return { ...point, targetId: restoredIdentifier(db(ctx).instanceIdentifier, "rec", new Date(point.restoreTime)) };
    },
  },
  {
    id: "restore",
    title: "Restore into a new instance",
    milestone: "restore_started",
    describe: (ctx): PlannedAction[] => {
      if (ctx.options.useInstance) return [{ kind: "note", action: `no restore: use ${ctx.options.useInstance}` }];
      const p = ctx.peek<Point>("pick-restore-point");
      return [
        {
          kind: "aws",
          action: `rds:RestoreDBInstanceToPointInTime (${ctx.outputs.region})`,
          detail: {
            source:
              p?.method === "retained-backups"
                ? { SourceDbiResourceId: p.sourceDbiResourceId }
                : { SourceDBInstanceIdentifier: db(ctx).instanceIdentifier },
            TargetDBInstanceIdentifier: target(ctx),
            RestoreTime: p?.restoreTime ?? "<latest restorable time>",
            ...settingsFromOutputs(db(ctx)),
          },
        },
      ];
    },
    isDone: async (ctx) =>
      (await describeInstance(rdsOf(ctx), ctx.result<Point>("pick-restore-point").targetId))
        ? { instanceIdentifier: ctx.result<Point>("pick-restore-point").targetId }
        : false,
    async run(ctx) {
      const p = ctx.result<Point>("pick-restore-point");
      if (p.method === "existing-instance") return { instanceIdentifier: p.targetId };
      const source =
        p.method === "retained-backups"
          ? { SourceDbiResourceId: p.sourceDbiResourceId }
          : { SourceDBInstanceIdentifier: p.sourceInstanceId };
      const res = await rdsOf(ctx).send(
        new RestoreDBInstanceToPointInTimeCommand({
          ...source,
          TargetDBInstanceIdentifier: p.targetId,
          RestoreTime: new Date(p.restoreTime),
          ...settingsFromOutputs(db(ctx)),
          PubliclyAccessible: false,
          DeletionProtection: true,
          CopyTagsToSnapshot: true,
          Tags: tags("database-recovery", ctx.runId, {
            "eventchain:restore-time": p.restoreTime,
            "eventchain:source": db(ctx).instanceIdentifier,
          }),
        }),
      );
      return { instanceIdentifier: p.targetId, status: res.DBInstance?.DBInstanceStatus ?? "unknown" };
    },
  },
  {
    id: "wait-restored",
    title: "Wait until the new instance is available",
    milestone: "restore_completed",
    describe: (ctx) => [
      {
        kind: "aws",
        action: `rds:waitUntilDBInstanceAvailable (${ctx.outputs.region})`,
        detail: { DBInstanceIdentifier: target(ctx), maxWaitMinutes: ctx.options.maxWaitMinutes },
      },
    ],
    async run(ctx) {
      const id = ctx.result<Point>("pick-restore-point").targetId;
      await ctx.wait(`${id} to become available`, () =>
        waitInstanceAvailable(rdsOf(ctx), id, ctx.options.maxWaitMinutes, ctx.signal),
      );
      const i = (await describeInstance(rdsOf(ctx), id))!;
      return { instanceIdentifier: id, address: i.Endpoint?.Address ?? null, port: i.Endpoint?.Port ?? db(ctx).port };
    },
    async verify(ctx) {
      const id = ctx.result<Point>("pick-restore-point").targetId;
      const i = await describeInstance(rdsOf(ctx), id);
      if (!i) throw new Error(`${id} disappeared`);
      checkInstance(i, settingsFromOutputs(db(ctx)));
    },
  },
];
