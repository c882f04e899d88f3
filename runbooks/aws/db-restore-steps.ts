/**
 * database-recovery's restore: pick the latest restorable point (or an instance recovered
 * already), restore into a new instance with the stack's settings, wait and verify.
 */
import { RDSClient, RestoreDBInstanceToPointInTimeCommand } from "@aws-sdk/client-rds";
import { stepFor, type PlannedAction, type RunContext, type StepRef } from "../lib/types.ts";
import type { WaitOptions } from "../lib/options.ts";
import {
  checkInstance,
  createInstanceOnce,
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
const step = stepFor<DatabaseRecoveryOptions>();

// Long on purpose: three step declarations that share this closure's handles; each step is one block.
/** pick-restore-point → restore → wait-restored, after the steps that gate the restore. */
export function restoreSteps(after: readonly StepRef<any>[]) {
  const target = (ctx: Ctx) =>
    ctx.peek(pickRestorePoint)?.targetId ?? ctx.options.useInstance ?? "<source>-rec-<restore time>";

  const pickRestorePoint = step({
    id: "pick-restore-point",
    dependsOn: after,
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
  });

  const restore = step({
    id: "restore",
    dependsOn: [pickRestorePoint],
    title: "Restore into a new instance",
    milestone: "restore_started",
    describe: (ctx): PlannedAction[] => {
      if (ctx.options.useInstance) return [{ kind: "note", action: `no restore: use ${ctx.options.useInstance}` }];
      const p = ctx.peek(pickRestorePoint);
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
      (await describeInstance(rdsOf(ctx), ctx.result(pickRestorePoint).targetId))
        ? { instanceIdentifier: ctx.result(pickRestorePoint).targetId }
        : false,
    async run(ctx): Promise<{ instanceIdentifier: string; status?: string }> {
      const p = ctx.result(pickRestorePoint);
      if (p.method === "existing-instance") return { instanceIdentifier: p.targetId };
      const source =
        p.method === "retained-backups"
          ? { SourceDbiResourceId: p.sourceDbiResourceId }
          : { SourceDBInstanceIdentifier: p.sourceInstanceId };
      const status = await createInstanceOnce(
        rdsOf(ctx),
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
        p.targetId,
      );
      return { instanceIdentifier: p.targetId, status };
    },
  });

  const waitRestored = step({
    id: "wait-restored",
    dependsOn: [pickRestorePoint, restore],
    title: "Wait until the new instance is available",
    milestone: "restore_completed",
    gate: true,
    describe: (ctx) => [
      {
        kind: "aws",
        action: `rds:waitUntilDBInstanceAvailable (${ctx.outputs.region})`,
        detail: { DBInstanceIdentifier: target(ctx), maxWaitMinutes: ctx.options.maxWaitMinutes },
      },
    ],
    async run(ctx) {
      const id = ctx.result(pickRestorePoint).targetId;
      await ctx.wait(`${id} to become available`, () =>
        waitInstanceAvailable(rdsOf(ctx), id, ctx.options.maxWaitMinutes, ctx.signal),
      );
      const i = (await describeInstance(rdsOf(ctx), id))!;
      return { instanceIdentifier: id, address: i.Endpoint?.Address ?? null, port: i.Endpoint?.Port ?? db(ctx).port };
    },
    async verify(ctx) {
      const id = ctx.result(pickRestorePoint).targetId;
      const i = await describeInstance(rdsOf(ctx), id);
      if (!i) throw new Error(`${id} disappeared`);
      checkInstance(i, settingsFromOutputs(db(ctx)));
    },
  });

  return { pickRestorePoint, restore, waitRestored, target };
}
