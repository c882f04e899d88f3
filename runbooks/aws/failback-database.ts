/**
 * Failback's database pipeline: snapshot the DR database, copy the snapshot to the primary
 * region (primary KMS key), restore a NEW primary instance from it, wait and verify.
 */
import {
  CopyDBSnapshotCommand,
  CreateDBSnapshotCommand,
  DescribeDBSnapshotsCommand,
  RDSClient,
  RestoreDBInstanceFromDBSnapshotCommand,
} from "@aws-sdk/client-rds";
import type { StackOutputs } from "../../contract/stack-outputs.ts";
import { stepFor, type RunContext, type StepRef } from "../lib/types.ts";
import type { WaitOptions } from "../lib/options.ts";
import type { PrimaryTimeoutOptions } from "./primary.ts";
import {
  checkInstance,
  createInstanceOnce,
  createSnapshotOnce,
  describeInstance,
  restoredIdentifier,
  settingsFromOutputs,
  tags,
  waitInstanceAvailable,
  waitSnapshotAvailable,
} from "./rds.ts";

export interface FailbackOptions extends WaitOptions, PrimaryTimeoutOptions {
  writesStopped: boolean;
}
type Ctx = RunContext<FailbackOptions>;
const dr = (ctx: Ctx): StackOutputs => ctx.peer!;
const prod = (ctx: Ctx): StackOutputs => ctx.outputs;
const stamp = (ctx: Ctx) => ctx.startedAt.toISOString().replace(/[-:T]/g, "").slice(0, 14);
export const snapshotId = (ctx: Ctx) => `${dr(ctx).database.instanceIdentifier}-failback-${stamp(ctx)}`;
export const newPrimaryId = (ctx: Ctx) =>
  restoredIdentifier(prod(ctx).database.instanceIdentifier, "fb", ctx.startedAt);

async function snapshotStatus(
  rds: RDSClient,
  id: string,
): Promise<{ status: string; arn: string; createdAt: string | null } | undefined> {
  try {
    const s = (await rds.send(new DescribeDBSnapshotsCommand({ DBSnapshotIdentifier: id }))).DBSnapshots?.[0];
    return s
      ? {
          status: s.Status ?? "unknown",
          arn: s.DBSnapshotArn ?? id,
          createdAt: s.SnapshotCreateTime?.toISOString() ?? null,
        }
      : undefined;
  } catch (error) {
    if ((error as { name?: string }).name === "DBSnapshotNotFoundFault") return undefined;
    throw error;
  }
}

const step = stepFor<FailbackOptions>();

// Long on purpose: four step declarations that share this closure's handles; each step is one block.
/** snapshot-dr-db → copy-snapshot → restore-primary-db → wait-primary-db, after the steps that gate them. */
export function failbackDatabaseSteps(after: readonly StepRef<any>[]) {
  const snapshotDrDb = step({
    id: "snapshot-dr-db",
    dependsOn: after,
    title: "Snapshot the DR database",
    milestone: "backup_identified",
    describe: (ctx) => [
      {
        kind: "aws",
        action: `rds:CreateDBSnapshot (${dr(ctx).region})`,
        detail: { DBInstanceIdentifier: dr(ctx).database.instanceIdentifier, DBSnapshotIdentifier: snapshotId(ctx) },
      },
      {
        kind: "aws",
        action: `rds:waitUntilDBSnapshotAvailable (${dr(ctx).region})`,
        detail: { maxWaitMinutes: ctx.options.maxWaitMinutes },
      },
    ],
    async isDone(ctx) {
      const s = await snapshotStatus(ctx.aws(RDSClient, dr(ctx).region), snapshotId(ctx));
      return s?.status === "available"
        ? {
            snapshotId: snapshotId(ctx),
            snapshotArn: s.arn,
            recoveryPointAt: s.createdAt ?? new Date().toISOString(),
            recoveryPointSource: `snapshot ${snapshotId(ctx)} of ${dr(ctx).database.instanceIdentifier}`,
          }
        : false;
    },
    async run(ctx) {
      const rds = ctx.aws(RDSClient, dr(ctx).region);
      if (!(await snapshotStatus(rds, snapshotId(ctx)))) {
        await createSnapshotOnce(
          rds,
          new CreateDBSnapshotCommand({
            DBInstanceIdentifier: dr(ctx).database.instanceIdentifier,
            DBSnapshotIdentifier: snapshotId(ctx),
            Tags: tags("failback", ctx.runId),
          }),
          snapshotId(ctx),
        );
      }
      await ctx.wait(`snapshot ${snapshotId(ctx)}`, () =>
        waitSnapshotAvailable(rds, snapshotId(ctx), ctx.options.maxWaitMinutes, ctx.signal),
      );
      const s = (await snapshotStatus(rds, snapshotId(ctx)))!;
      return {
        snapshotId: snapshotId(ctx),
        snapshotArn: s.arn,
        recoveryPointAt: s.createdAt ?? new Date().toISOString(),
        recoveryPointSource: `snapshot ${snapshotId(ctx)} of ${dr(ctx).database.instanceIdentifier}`,
      };
    },
  });

  const copySnapshot = step({
    id: "copy-snapshot",
    dependsOn: [snapshotDrDb],
    title: "Copy the snapshot to the primary region",
    describe: (ctx) => [
      {
        kind: "aws",
        action: `rds:CopyDBSnapshot (${dr(ctx).region} → ${prod(ctx).region})`,
        detail: { TargetDBSnapshotIdentifier: snapshotId(ctx), KmsKeyId: prod(ctx).database.kmsKeyArn },
      },
    ],
    async isDone(ctx) {
      const s = await snapshotStatus(ctx.aws(RDSClient, prod(ctx).region), snapshotId(ctx));
      return s?.status === "available" ? { snapshotId: snapshotId(ctx), region: prod(ctx).region } : false;
    },
    async run(ctx) {
      const rds = ctx.aws(RDSClient, prod(ctx).region);
      if (!(await snapshotStatus(rds, snapshotId(ctx)))) {
        const source = ctx.result(snapshotDrDb).snapshotArn;
        await createSnapshotOnce(
          rds,
          new CopyDBSnapshotCommand({
            SourceDBSnapshotIdentifier: source,
            TargetDBSnapshotIdentifier: snapshotId(ctx),
            KmsKeyId: prod(ctx).database.kmsKeyArn,
            CopyTags: true,
          }),
          snapshotId(ctx),
        );
      }
      await ctx.wait(`copy of ${snapshotId(ctx)} in ${prod(ctx).region}`, () =>
        waitSnapshotAvailable(rds, snapshotId(ctx), ctx.options.maxWaitMinutes, ctx.signal),
      );
      return { snapshotId: snapshotId(ctx), region: prod(ctx).region };
    },
  });

  const restorePrimaryDb = step({
    id: "restore-primary-db",
    dependsOn: [copySnapshot],
    title: "Restore a new primary database from the copy",
    milestone: "restore_started",
    describe: (ctx) => [
      {
        kind: "aws",
        action: `rds:RestoreDBInstanceFromDBSnapshot (${prod(ctx).region})`,
        detail: {
          DBSnapshotIdentifier: snapshotId(ctx),
          DBInstanceIdentifier: newPrimaryId(ctx),
          ...settingsFromOutputs(prod(ctx).database),
        },
      },
    ],
    isDone: async (ctx) =>
      (await describeInstance(ctx.aws(RDSClient, prod(ctx).region), newPrimaryId(ctx)))
        ? { instanceIdentifier: newPrimaryId(ctx) }
        : false,
    async run(ctx) {
      const status = await createInstanceOnce(
        ctx.aws(RDSClient, prod(ctx).region),
        new RestoreDBInstanceFromDBSnapshotCommand({
          DBSnapshotIdentifier: snapshotId(ctx),
          DBInstanceIdentifier: newPrimaryId(ctx),
          ...settingsFromOutputs(prod(ctx).database),
          PubliclyAccessible: false,
          DeletionProtection: true,
          CopyTagsToSnapshot: true,
          Tags: tags("failback", ctx.runId),
        }),
        newPrimaryId(ctx),
      );
      return { instanceIdentifier: newPrimaryId(ctx), status };
    },
  });

  const waitPrimaryDb = step({
    id: "wait-primary-db",
    gate: true,
    dependsOn: [restorePrimaryDb],
    title: "Wait until the new primary database is available",
    milestone: "restore_completed",
    describe: (ctx) => [
      {
        kind: "aws",
        action: `rds:waitUntilDBInstanceAvailable (${prod(ctx).region})`,
        detail: { DBInstanceIdentifier: newPrimaryId(ctx), maxWaitMinutes: ctx.options.maxWaitMinutes },
      },
    ],
    async run(ctx) {
      const rds = ctx.aws(RDSClient, prod(ctx).region);
      await ctx.wait(`${newPrimaryId(ctx)} to become available`, () =>
        waitInstanceAvailable(rds, newPrimaryId(ctx), ctx.options.maxWaitMinutes, ctx.signal),
      );
      const i = (await describeInstance(rds, newPrimaryId(ctx)))!;
      return {
        instanceIdentifier: newPrimaryId(ctx),
        address: i.Endpoint?.Address ?? null,
        port: i.Endpoint?.Port ?? prod(ctx).database.port,
      };
    },
    async verify(ctx) {
      const i = await describeInstance(ctx.aws(RDSClient, prod(ctx).region), newPrimaryId(ctx));
      if (!i) throw new Error(`${newPrimaryId(ctx)} disappeared`);
      checkInstance(i, settingsFromOutputs(prod(ctx).database));
    },
  });

  return { snapshotDrDb, copySnapshot, restorePrimaryDb, waitPrimaryDb };
}
