/**
 * RDS point-in-time restore engine (`--engine rds`, the default): restores the stack's
 * instance to a new identifier with the source's class, subnet group, security groups and
 * parameter group; never touches the source.
 */
import {
  CreateDBSnapshotCommand,
  DescribeDBSnapshotsCommand,
  RDSClient,
  RestoreDBInstanceToPointInTimeCommand,
} from "@aws-sdk/client-rds";
import {
  checkInstance,
  createInstanceOnce,
  createSnapshotOnce,
  describeInstance,
  restoreWindowOf,
  restoredIdentifier,
  settingsFromInstance,
  tags,
  waitInstanceAvailable,
  waitSnapshotAvailable,
  type RestoreSettings,
} from "../aws/rds.ts";
import type { PitrContext, RestoreEngine, RestoreTarget } from "../lib/restore-engine.ts";
import type { PreflightCheck } from "../lib/types.ts";
import { dbParameterGroup, dbSubnetGroup } from "../aws/preflight-checks.ts";

const rdsOf = (ctx: PitrContext) => ctx.aws(RDSClient, ctx.outputs.region);
const sourceId = (ctx: PitrContext) => ctx.outputs.database.instanceIdentifier;
const snapshotId = (target: RestoreTarget) => `${target.targetId}-recovered`;

/** The source's settings as described by RDS (outputs give the same names; RDS is the truth at 3 a.m.). */
async function sourceSettings(ctx: PitrContext): Promise<RestoreSettings> {
  const source = await describeInstance(rdsOf(ctx), sourceId(ctx));
  if (!source)
    throw new Error(
      `source instance ${sourceId(ctx)} not found in ${ctx.outputs.region}: use the database-recovery runbook for a deleted instance`,
    );
  return settingsFromInstance(source);
}

export const rdsPitr: RestoreEngine = {
  name: "rds",
  summary: "Amazon RDS RestoreDBInstanceToPointInTime into a new instance",

  /** The source, and the subnet and parameter groups the restore copies from it. */
  preflight(ctx): PreflightCheck[] {
    const region = ctx.outputs.region;
    let source: Promise<RestoreSettings | undefined> | undefined;
    const settings = () =>
      (source ??= describeInstance(rdsOf(ctx), sourceId(ctx)).then((i) => (i ? settingsFromInstance(i) : undefined)));
    const ofSource = (
      what: string,
      pick: (s: RestoreSettings) => string,
      check: (name: string) => PreflightCheck,
    ): PreflightCheck => ({
      what: `${what} of source instance ${sourceId(ctx)} (${region})`,
      async check() {
        const s = await settings();
        if (!s) return `source instance ${sourceId(ctx)} does not exist`;
        const c = check(pick(s));
        const problem = await c.check();
        return typeof problem === "string" ? `${c.what} ${problem}` : undefined;
      },
    });
    return [
      ofSource(
        "DB subnet group",
        (s) => s.DBSubnetGroupName,
        (n) => dbSubnetGroup(ctx, region, n),
      ),
      ofSource(
        "DB parameter group",
        (s) => s.DBParameterGroupName,
        (n) => dbParameterGroup(ctx, region, n),
      ),
    ];
  },

  async window(ctx) {
    const rds = rdsOf(ctx);
    const source = await describeInstance(rds, sourceId(ctx));
    if (!source) throw new Error(`source instance ${sourceId(ctx)} not found in ${ctx.outputs.region}`);
    return restoreWindowOf(rds, source);
  },

  targetId(ctx, restoreTime) {
    return restoredIdentifier(sourceId(ctx), "pitr", restoreTime);
  },

  plan(ctx, target) {
    const to = target?.targetId ?? "<source>-pitr-<restore time>";
    return [
      {
        kind: "aws",
        action: `rds:DescribeDBInstances (${ctx.outputs.region})`,
        detail: { DBInstanceIdentifier: sourceId(ctx) },
      },
      {
        kind: "aws",
        action: `rds:RestoreDBInstanceToPointInTime (${ctx.outputs.region})`,
        detail: {
          SourceDBInstanceIdentifier: sourceId(ctx),
          TargetDBInstanceIdentifier: to,
          RestoreTime: target?.restoreTime ?? "<validated time>",
          settings: "class, subnet group, security groups, parameter group, Multi-AZ of the source",
          PubliclyAccessible: false,
          DeletionProtection: true,
        },
      },
      {
        kind: "aws",
        action: `rds:waitUntilDBInstanceAvailable (${ctx.outputs.region})`,
        detail: { DBInstanceIdentifier: to, maxWaitMinutes: ctx.options.maxWaitMinutes },
      },
    ];
  },

  async exists(ctx, target) {
    return (await describeInstance(rdsOf(ctx), target.targetId))
      ? { instanceIdentifier: target.targetId, note: "target already exists" }
      : false;
  },

  async restore(ctx, target) {
    const settings = await sourceSettings(ctx);
    const status = await createInstanceOnce(
      rdsOf(ctx),
      new RestoreDBInstanceToPointInTimeCommand({
        SourceDBInstanceIdentifier: sourceId(ctx),
        TargetDBInstanceIdentifier: target.targetId,
        RestoreTime: new Date(target.restoreTime),
        ...settings,
        PubliclyAccessible: false,
        DeletionProtection: true,
        CopyTagsToSnapshot: true,
        Tags: tags("point-in-time-restore", ctx.runId, {
          "eventchain:source": sourceId(ctx),
          "eventchain:restore-time": target.restoreTime,
        }),
      }),
      target.targetId,
    );
    return { instanceIdentifier: target.targetId, status, settings };
  },

  async waitReady(ctx, target) {
    await ctx.wait(`${target.targetId} to become available`, () =>
      waitInstanceAvailable(rdsOf(ctx), target.targetId, ctx.options.maxWaitMinutes, ctx.signal),
    );
    const i = await describeInstance(rdsOf(ctx), target.targetId);
    return {
      instanceIdentifier: target.targetId,
      address: i?.Endpoint?.Address ?? null,
      port: i?.Endpoint?.Port ?? null,
    };
  },

  async verify(ctx, target) {
    const instance = await describeInstance(rdsOf(ctx), target.targetId);
    if (!instance) throw new Error(`${target.targetId} does not exist after the restore`);
    checkInstance(instance, await sourceSettings(ctx));
    return {
      instanceIdentifier: target.targetId,
      status: instance.DBInstanceStatus,
      endpoint: instance.Endpoint?.Address ?? null,
      engineVersion: instance.EngineVersion ?? null,
    };
  },

  snapshot: {
    describe(ctx, target) {
      return [
        {
          kind: "aws",
          action: `rds:CreateDBSnapshot (${ctx.outputs.region})`,
          detail: { DBInstanceIdentifier: target.targetId, DBSnapshotIdentifier: snapshotId(target) },
        },
      ];
    },
    async exists(ctx, target) {
      try {
        const res = await rdsOf(ctx).send(new DescribeDBSnapshotsCommand({ DBSnapshotIdentifier: snapshotId(target) }));
        const s = res.DBSnapshots?.[0];
        return s ? { snapshotId: snapshotId(target), status: s.Status ?? "unknown" } : false;
      } catch (error) {
        if ((error as { name?: string }).name === "DBSnapshotNotFoundFault") return false;
        throw error;
      }
    },
    async run(ctx, target) {
      await createSnapshotOnce(
        rdsOf(ctx),
        new CreateDBSnapshotCommand({
          DBInstanceIdentifier: target.targetId,
          DBSnapshotIdentifier: snapshotId(target),
          Tags: tags("point-in-time-restore", ctx.runId),
        }),
        snapshotId(target),
      );
      await ctx.wait(`snapshot ${snapshotId(target)}`, () =>
        waitSnapshotAvailable(rdsOf(ctx), snapshotId(target), ctx.options.maxWaitMinutes, ctx.signal),
      );
      return { snapshotId: snapshotId(target), status: "available" };
    },
  },

  nextSteps(ctx, target) {
    return [
      `Check the data on ${target.targetId} (restored to ${target.restoreTime}); it is private, encrypted and has deletion protection on.`,
      `If it is right, repoint the application: npx zx runbooks/database-recovery.ts --stack ` +
        `${ctx.outputs.stack} --use-instance ${target.targetId} (or update secret ${ctx.outputs.database.appConnectionSecretArn}).`,
      `Keep ${sourceId(ctx)} until the recovery is verified; deleting it is a separate, explicit decision (its automated backups go with it unless retained).`,
      `The restored instance is not managed by Pulumi: do not let 'pulumi up' replace it; adopt it with 'pulumi import' once it becomes the primary.`,
    ];
  },
};
