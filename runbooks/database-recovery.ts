/**
 * Complete database failure (the plan's Database Recovery Runbook, automated): confirm the
 * failure, notify, pick the latest restorable point, restore into a NEW instance with the
 * stack's settings, repoint the application (its Secrets Manager connection secret, then a
 * rolling redeploy; plus the Kubernetes deployment's env when the stack runs one), verify,
 * and leave a post-recovery checklist in the report. The failed instance is kept.
 *
 *   npx zx runbooks/database-recovery.ts --stack prod
 *   npx zx runbooks/database-recovery.ts --stack prod --use-instance eventchain-prod-db-pitr-20260115143000
 */
import { ElasticLoadBalancingV2Client } from "@aws-sdk/client-elastic-load-balancing-v2";
import { $ } from "zx";
import { snsSinks } from "./aws/alert-topic-sinks.ts";
import { s3RunStore, TRAFFIC_LOCK_SCOPE } from "./aws/journal-store.ts";
import { databaseRecoveryPreflight } from "./aws/preflight-checks.ts";
import { parseWaitOptions, WAIT_OPTIONS } from "./lib/options.ts";
import { describeInstance } from "./aws/rds.ts";
import { db, rdsOf, restoreSteps, type Ctx, type DatabaseRecoveryOptions } from "./aws/db-restore-steps.ts";
import { waitTargetsHealthy } from "./aws/services.ts";
import { describeRoll, pointSecretStep, readConnectionSecret, rollServices } from "./aws/steps.ts";
import { SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { isMain, runCli } from "./lib/cli.ts";
import { BadInputError } from "./lib/errors.ts";
import { RDS_INSTANCE_ID_RULE, rdsInstanceIdentifierProblem } from "../contract/aws-names.ts";
import { stepFor, type RawOptions, type Runbook } from "./lib/types.ts";

function kubectlCommands(ctx: Ctx, host: string, port: number): string[][] {
  const k = ctx.outputs.kubernetes;
  if (!k.enabled || !k.namespace || !k.appDeployment) return [];
  return [
    [
      "kubectl",
      "--namespace",
      k.namespace,
      "set",
      "env",
      `deployment/${k.appDeployment}`,
      `DATABASE_HOST=${host}`,
      `DATABASE_PORT=${port}`,
    ],
    [
      "kubectl",
      "--namespace",
      k.namespace,
      "rollout",
      "status",
      `deployment/${k.appDeployment}`,
      `--timeout=${Math.ceil(ctx.options.maxWaitMinutes * 60)}s`,
    ],
  ];
}

const step = stepFor<DatabaseRecoveryOptions>();

const confirmFailure = step({
  id: "confirm-failure",
  dependsOn: [],
  title: "Confirm the database has failed",
  readOnly: true,
  gate: true,
  milestone: "failure_confirmed",
  describe: (ctx) => [
    {
      kind: "aws",
      action: `rds:DescribeDBInstances (${ctx.outputs.region})`,
      detail: { DBInstanceIdentifier: db(ctx).instanceIdentifier },
    },
  ],
  async run(ctx) {
    const i = await describeInstance(rdsOf(ctx), db(ctx).instanceIdentifier);
    const status = i?.DBInstanceStatus ?? "missing";
    if (status === "available" && !ctx.force) {
      throw new BadInputError(
        `${db(ctx).instanceIdentifier} is available: this runbook is for a failed database. For bad data use point-in-time-restore; pass --force to replace a database that reports available.`,
      );
    }
    if (ctx.options.useInstance) {
      const u = await describeInstance(rdsOf(ctx), ctx.options.useInstance);
      if (!u)
        throw new BadInputError(`--use-instance "${ctx.options.useInstance}" does not exist in ${ctx.outputs.region}`);
      if (ctx.options.useInstance === db(ctx).instanceIdentifier)
        throw new BadInputError(`--use-instance "${ctx.options.useInstance}" is the failed instance itself`);
    }
    return { instance: db(ctx).instanceIdentifier, status };
  },
});

const notifyTeam = step({
  id: "notify-team",
  dependsOn: [confirmFailure],
  title: "Notify the team",
  describe: (ctx) => [
    {
      kind: "note",
      action: `publish "database failure detected" to ${ctx.outputs.alerts.topicArn}${process.env.SLACK_WEBHOOK_URL ? " and Slack" : ""}`,
    },
  ],
  async run(ctx) {
    const status = ctx.result(confirmFailure).status;
    await ctx.notify(
      `Database failure on ${ctx.outputs.stack}: recovery started`,
      `${db(ctx).instanceIdentifier} is ${status}. database-recovery run ${ctx.runId} is restoring to a new instance; follow the run's report.`,
    );
    return { notified: true };
  },
});

const { pickRestorePoint, restore, waitRestored, target } = restoreSteps([notifyTeam]);

const repointApplication = pointSecretStep<DatabaseRecoveryOptions>({
  id: "repoint-application",
  dependsOn: [waitRestored],
  title: "Repoint the application to the new instance",
  movesTraffic: true,
  secret: (ctx) => ({ arn: db(ctx).appConnectionSecretArn, region: ctx.outputs.region }),
  database: (ctx) => {
    const w = ctx.peek(waitRestored);
    return w?.address ? { host: w.address, port: w.port } : undefined;
  },
  describeAfter: (ctx) => [
    ...describeRoll(ctx, ctx.outputs),
    ...kubectlCommands(ctx, ctx.peek(waitRestored)?.address ?? "<new address>", db(ctx).port).map((argv) => ({
      kind: "command" as const,
      action: argv.join(" "),
    })),
  ],
  async after(ctx) {
    const w = ctx.result(waitRestored);
    if (!w.address) throw new Error(`${w.instanceIdentifier} has no endpoint address yet`);
    const names = await rollServices(ctx, ctx.outputs);
    const kubectl = kubectlCommands(ctx, w.address, w.port);
    for (const [cmd, ...args] of kubectl) await $({ quiet: true })`${cmd} ${args}`;
    return { redeployed: names, kubernetes: kubectl.length > 0 };
  },
});

const verifyRecovery = step({
  id: "verify-recovery",
  dependsOn: [pickRestorePoint, waitRestored, repointApplication],
  title: "Verify the recovery",
  milestone: "health_verified",
  describe: (ctx) => [
    {
      kind: "aws",
      action: `rds:DescribeDBInstances (${ctx.outputs.region})`,
      detail: { DBInstanceIdentifier: target(ctx) },
    },
    {
      kind: "aws",
      action: `secretsmanager:GetSecretValue (${ctx.outputs.region})`,
      detail: { SecretId: db(ctx).appConnectionSecretArn },
    },
    ...ctx.outputs.services.services.map((s) => ({
      kind: "aws" as const,
      action: `elbv2:DescribeTargetHealth (${ctx.outputs.region})`,
      detail: { TargetGroupArn: s.targetGroupArn },
    })),
  ],
  async run(ctx) {
    const w = ctx.result(waitRestored);
    const i = await describeInstance(rdsOf(ctx), w.instanceIdentifier);
    if (i?.DBInstanceStatus !== "available")
      throw new Error(`${w.instanceIdentifier} is ${i?.DBInstanceStatus ?? "missing"}, expected available`);
    const secret = await readConnectionSecret(
      ctx.aws(SecretsManagerClient, ctx.outputs.region),
      db(ctx).appConnectionSecretArn,
    );
    if (secret.host !== w.address)
      throw new Error(`the application's connection secret does not name ${w.instanceIdentifier}`);
    const health = await waitTargetsHealthy(
      ctx.aws(ElasticLoadBalancingV2Client, ctx.outputs.region),
      ctx.outputs.services.services.map((s) => s.targetGroupArn),
      ctx.options.healthAttempts,
    );
    return {
      instance: w.instanceIdentifier,
      secretPointsAtInstance: true,
      targets: health.map((h) => ({ targetGroupArn: h.targetGroupArn, healthy: h.healthy })),
    };
  },
});

const steps = [confirmFailure, notifyTeam, pickRestorePoint, restore, waitRestored, repointApplication, verifyRecovery];

export const runbook: Runbook<DatabaseRecoveryOptions> = {
  name: "database-recovery",
  summary:
    "Recover from a complete primary database failure: restore the latest point into a new instance and repoint the application",
  system: "primary-database",
  options: {
    "use-instance": {
      type: "string",
      description: "Repoint to this already-recovered instance (e.g. from point-in-time-restore) instead of restoring",
    },
    ...WAIT_OPTIONS,
  },
  parseOptions(raw: RawOptions) {
    const use = raw["use-instance"];
    if (use !== undefined && (typeof use !== "string" || rdsInstanceIdentifierProblem(use))) {
      throw new BadInputError(
        `invalid --use-instance ${JSON.stringify(String(use))}: expected ${RDS_INSTANCE_ID_RULE}`,
      );
    }
    return { ...parseWaitOptions(raw), useInstance: use };
  },
  preflight: databaseRecoveryPreflight,
  sharedStore: s3RunStore,
  lockScope: TRAFFIC_LOCK_SCOPE,
  steps,
  nextSteps: (ctx) => [
    `The application now uses ${ctx.result(pickRestorePoint).targetId}; ${db(ctx).instanceIdentifier} was kept for investigation (deleting it is a separate, explicit decision).`,
    `Adopt ${ctx.result(pickRestorePoint).targetId} into Pulumi (pulumi import) before the next 'pulumi up' on ${ctx.outputs.stack}.`,
  ],
  checklist: (ctx) => [
    "DNS: no change needed (the application finds the database through its connection secret); confirm clients reconnected",
    `Monitor application performance and ${ctx.outputs.services.errorRateAlarmName} for the next hours`,
    `Confirm automated backups and cross-region replication are enabled on ${ctx.result(pickRestorePoint).targetId}`,
    "Reconcile writes made between the recovery point and the failure",
    "Document the incident and lessons learned",
    "Schedule the post-incident review",
  ],
};

if (isMain(import.meta.url)) await runCli(runbook, { sinks: snsSinks });
