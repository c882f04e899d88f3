/**
 * Complete database failure (the plan's Database Recovery Runbook, automated): confirm the
 * failure, notify, pick the latest restorable point, restore into a NEW instance with the
 * stack's settings, repoint the application (its Secrets Manager connection secret, then a
 * rolling redeploy; plus the Kubernetes deployment's env when the stack runs one), verify,
 * and leave a post-recovery checklist in the report. The failed instance is kept.
 *
 *   npx tsx runbooks/database-recovery.ts --stack prod
 *   npx tsx runbooks/database-recovery.ts --stack prod --use-instance eventchain-prod-db-pitr-20260115143000
 */
import { RDSClient, RestoreDBInstanceToPointInTimeCommand } from "@aws-sdk/client-rds";
import { ElasticLoadBalancingV2Client } from "@aws-sdk/client-elastic-load-balancing-v2";
import { $ } from "zx";
import { snsSinks } from "./aws/notify.ts";
import { parseWaitOptions, WAIT_OPTIONS, type WaitOptions } from "./aws/options.ts";
import { checkInstance, describeInstance, latestRestorePoint, restoredIdentifier, settingsFromOutputs, tags, waitInstanceAvailable, type RestorePoint } from "./aws/rds.ts";
import { waitTargetsHealthy } from "./aws/services.ts";
import { pointSecretStep, readConnectionSecret, rollServices } from "./aws/steps.ts";
import { SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { isMain, runCli } from "./lib/cli.ts";
import { BadInputError } from "./lib/errors.ts";
import type { PlannedAction, RawOptions, RunContext, Runbook, Step } from "./lib/types.ts";

export interface DatabaseRecoveryOptions extends WaitOptions {
  /** Repoint to this already-recovered instance instead of restoring (e.g. after point-in-time-restore). */
  useInstance: string | undefined;
}
type Ctx = RunContext<DatabaseRecoveryOptions>;
type Point = (RestorePoint | { method: "existing-instance"; restoreTime: string | null; recoveryPointAt?: string; recoveryPointSource?: string }) & { targetId: string };

const rdsOf = (ctx: Ctx) => ctx.aws(RDSClient, ctx.outputs.region);
const db = (ctx: Ctx) => ctx.outputs.database;
const target = (ctx: Ctx) => ctx.peek<Point>("pick-restore-point")?.targetId ?? ctx.options.useInstance ?? "<source>-rec-<restore time>";

function kubectlCommands(ctx: Ctx, host: string, port: number): string[][] {
  const k = ctx.outputs.kubernetes;
  if (!k.enabled || !k.namespace || !k.appDeployment) return [];
  return [
    ["kubectl", "--namespace", k.namespace, "set", "env", `deployment/${k.appDeployment}`, `DATABASE_HOST=${host}`, `DATABASE_PORT=${port}`],
    ["kubectl", "--namespace", k.namespace, "rollout", "status", `deployment/${k.appDeployment}`, `--timeout=${Math.ceil(ctx.options.maxWaitMinutes * 60)}s`],
  ];
}

const steps: Step<DatabaseRecoveryOptions>[] = [
  {
    id: "confirm-failure",
    title: "Confirm the database has failed",
    readOnly: true,
    milestone: "failure_confirmed",
    describe: (ctx) => [{ kind: "aws", action: `rds:DescribeDBInstances (${ctx.outputs.region})`, detail: { DBInstanceIdentifier: db(ctx).instanceIdentifier } }],
    async run(ctx) {
      const i = await describeInstance(rdsOf(ctx), db(ctx).instanceIdentifier);
      const status = i?.DBInstanceStatus ?? "missing";
      if (status === "available" && !ctx.force) {
        throw new BadInputError(`${db(ctx).instanceIdentifier} is available: this runbook is for a failed database. For bad data use point-in-time-restore; pass --force to replace a database that reports available.`);
      }
      if (ctx.options.useInstance) {
        const u = await describeInstance(rdsOf(ctx), ctx.options.useInstance);
        if (!u) throw new BadInputError(`--use-instance "${ctx.options.useInstance}" does not exist in ${ctx.outputs.region}`);
        if (ctx.options.useInstance === db(ctx).instanceIdentifier) throw new BadInputError(`--use-instance "${ctx.options.useInstance}" is the failed instance itself`);
      }
      return { instance: db(ctx).instanceIdentifier, status };
    },
  },
  {
    id: "notify-team",
    title: "Notify the team",
    describe: (ctx) => [{ kind: "note", action: `publish "database failure detected" to ${ctx.outputs.alerts.topicArn}${process.env.SLACK_WEBHOOK_URL ? " and Slack" : ""}` }],
    async run(ctx) {
      const status = ctx.result<{ status: string }>("confirm-failure").status;
      await ctx.notify(`Database failure on ${ctx.outputs.stack}: recovery started`, `${db(ctx).instanceIdentifier} is ${status}. database-recovery run ${ctx.runId} is restoring to a new instance; follow the run's report.`);
      return { notified: true };
    },
  },
  {
    id: "pick-restore-point",
    title: "Pick the latest restorable point",
    readOnly: true,
    milestone: "backup_identified",
    describe: (ctx) => [{ kind: "aws", action: `rds:DescribeDBInstances / DescribeDBInstanceAutomatedBackups (${ctx.outputs.region})`, detail: { DBInstanceIdentifier: db(ctx).instanceIdentifier, DbiResourceId: db(ctx).resourceId } }],
    async run(ctx): Promise<Point> {
      if (ctx.options.useInstance) {
        const u = (await describeInstance(rdsOf(ctx), ctx.options.useInstance))!;
        const tagged = u.TagList?.find((t) => t.Key === "eventchain:restore-time")?.Value;
        return { method: "existing-instance", targetId: ctx.options.useInstance, restoreTime: tagged ?? null, ...(tagged ? { recoveryPointAt: tagged, recoveryPointSource: `restore time of ${ctx.options.useInstance}` } : {}) };
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
      return [{ kind: "aws", action: `rds:RestoreDBInstanceToPointInTime (${ctx.outputs.region})`, detail: { source: p?.method === "retained-backups" ? { SourceDbiResourceId: p.sourceDbiResourceId } : { SourceDBInstanceIdentifier: db(ctx).instanceIdentifier }, TargetDBInstanceIdentifier: target(ctx), RestoreTime: p?.restoreTime ?? "<latest restorable time>", ...settingsFromOutputs(db(ctx)) } }];
    },
    isDone: async (ctx) => ((await describeInstance(rdsOf(ctx), ctx.result<Point>("pick-restore-point").targetId)) ? { instanceIdentifier: ctx.result<Point>("pick-restore-point").targetId } : false),
    async run(ctx) {
      const p = ctx.result<Point>("pick-restore-point");
      if (p.method === "existing-instance") return { instanceIdentifier: p.targetId };
      const source = p.method === "retained-backups" ? { SourceDbiResourceId: p.sourceDbiResourceId } : { SourceDBInstanceIdentifier: p.sourceInstanceId };
      const res = await rdsOf(ctx).send(
        new RestoreDBInstanceToPointInTimeCommand({
          ...source,
          TargetDBInstanceIdentifier: p.targetId,
          RestoreTime: new Date(p.restoreTime),
          ...settingsFromOutputs(db(ctx)),
          PubliclyAccessible: false,
          DeletionProtection: true,
          CopyTagsToSnapshot: true,
          Tags: tags("database-recovery", ctx.runId, { "eventchain:restore-time": p.restoreTime, "eventchain:source": db(ctx).instanceIdentifier }),
        }),
      );
      return { instanceIdentifier: p.targetId, status: res.DBInstance?.DBInstanceStatus ?? "unknown" };
    },
  },
  {
    id: "wait-restored",
    title: "Wait until the new instance is available",
    milestone: "restore_completed",
    describe: (ctx) => [{ kind: "aws", action: `rds:waitUntilDBInstanceAvailable (${ctx.outputs.region})`, detail: { DBInstanceIdentifier: target(ctx), maxWaitMinutes: ctx.options.maxWaitMinutes } }],
    async run(ctx) {
      const id = ctx.result<Point>("pick-restore-point").targetId;
      await ctx.wait(`${id} to become available`, () => waitInstanceAvailable(rdsOf(ctx), id, ctx.options.maxWaitMinutes));
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
  pointSecretStep<DatabaseRecoveryOptions>({
    id: "repoint-application",
    title: "Repoint the application to the new instance",
    movesTraffic: true,
    secret: (ctx) => ({ arn: db(ctx).appConnectionSecretArn, region: ctx.outputs.region }),
    database: (ctx) => {
      const w = ctx.peek<{ address: string | null; port: number }>("wait-restored");
      return w?.address ? { host: w.address, port: w.port } : undefined;
    },
    async after(ctx) {
      const w = ctx.result<{ address: string; port: number }>("wait-restored");
      const names = await rollServices(ctx, ctx.outputs);
      const kubectl = kubectlCommands(ctx, w.address, w.port);
      for (const [cmd, ...args] of kubectl) await $({ quiet: true })`${cmd} ${args}`;
      return { redeployed: names, kubernetes: kubectl.length > 0 };
    },
  }),
  {
    id: "verify-recovery",
    title: "Verify the recovery",
    milestone: "health_verified",
    describe: (ctx) => [
      { kind: "aws", action: `rds:DescribeDBInstances (${ctx.outputs.region})`, detail: { DBInstanceIdentifier: target(ctx) } },
      { kind: "aws", action: `secretsmanager:GetSecretValue (${ctx.outputs.region})`, detail: { SecretId: db(ctx).appConnectionSecretArn } },
      ...ctx.outputs.services.services.map((s) => ({ kind: "aws" as const, action: `elbv2:DescribeTargetHealth (${ctx.outputs.region})`, detail: { TargetGroupArn: s.targetGroupArn } })),
    ],
    async run(ctx) {
      const w = ctx.result<{ instanceIdentifier: string; address: string }>("wait-restored");
      const i = await describeInstance(rdsOf(ctx), w.instanceIdentifier);
      if (i?.DBInstanceStatus !== "available") throw new Error(`${w.instanceIdentifier} is ${i?.DBInstanceStatus ?? "missing"}, expected available`);
      const secret = await readConnectionSecret(ctx.aws(SecretsManagerClient, ctx.outputs.region), db(ctx).appConnectionSecretArn);
      if (secret.host !== w.address) throw new Error(`the application's connection secret does not name ${w.instanceIdentifier}`);
      const health = await waitTargetsHealthy(ctx.aws(ElasticLoadBalancingV2Client, ctx.outputs.region), ctx.outputs.services.services.map((s) => s.targetGroupArn), ctx.options.healthAttempts);
      return { instance: w.instanceIdentifier, secretPointsAtInstance: true, targets: health.map((h) => ({ targetGroupArn: h.targetGroupArn, healthy: h.healthy })) };
    },
  },
];

export const runbook: Runbook<DatabaseRecoveryOptions> = {
  name: "database-recovery",
  summary: "Recover from a complete primary database failure: restore the latest point into a new instance and repoint the application",
  system: "primary-database",
  options: {
    "use-instance": { type: "string", description: "Repoint to this already-recovered instance (e.g. from point-in-time-restore) instead of restoring" },
    ...WAIT_OPTIONS,
  },
  parseOptions(raw: RawOptions) {
    const use = raw["use-instance"];
    if (use !== undefined && (typeof use !== "string" || !/^[A-Za-z][A-Za-z0-9-]{0,62}$/.test(use))) {
      throw new BadInputError(`invalid --use-instance "${String(use)}": expected an RDS instance identifier (a letter, then letters, digits or hyphens, at most 63)`);
    }
    return { ...parseWaitOptions(raw), useInstance: use };
  },
  steps,
  nextSteps: (ctx) => [
    `The application now uses ${ctx.result<Point>("pick-restore-point").targetId}; ${db(ctx).instanceIdentifier} was kept for investigation (deleting it is a separate, explicit decision).`,
    `Adopt ${ctx.result<Point>("pick-restore-point").targetId} into Pulumi (pulumi import) before the next 'pulumi up' on ${ctx.outputs.stack}.`,
  ],
  checklist: (ctx) => [
    "DNS: no change needed (the application finds the database through its connection secret); confirm clients reconnected",
    `Monitor application performance and ${ctx.outputs.services.errorRateAlarmName} for the next hours`,
    `Confirm automated backups and cross-region replication are enabled on ${ctx.result<Point>("pick-restore-point").targetId}`,
    "Reconcile writes made between the recovery point and the failure",
    "Document the incident and lessons learned",
    "Schedule the post-incident review",
  ],
};

if (isMain(import.meta.url)) await runCli(runbook, { sinks: snsSinks });
