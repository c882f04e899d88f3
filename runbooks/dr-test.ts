/**
 * Disaster-recovery test (the plan's dr-test.sh, fixed). Modes:
 * - `database`: restore the latest logical backup into a scratch database and run the full
 *   verification (object checksums, row counts, every foreign key, the plan's checks); the
 *   scratch database is always dropped.
 * - `application`: copy the application's Deployment into a throwaway namespace — pointed at a
 *   restored database (`--app-database-host`, never the production host: refused), with
 *   production-only environment, Secrets and the production service account stripped — after
 *   asking; wait until it is available, health-check a pod through the API server; the
 *   namespace it created is always deleted (and nothing else).
 * - `full`: both, plus DNS (the failover records and the primary health check) and monitoring
 *   (the error-rate alarm and the alert topic) checks. Independent checks run side by side.
 * Each mode leaves nothing behind, even when it fails.
 *
 *   npx zx runbooks/dr-test.ts --stack prod --mode database --connection env
 */
import { CloudWatchClient, DescribeAlarmsCommand } from "@aws-sdk/client-cloudwatch";
import { GetHealthCheckStatusCommand, ListResourceRecordSetsCommand, Route53Client } from "@aws-sdk/client-route-53";
import { GetTopicAttributesCommand, SNSClient } from "@aws-sdk/client-sns";
import { routingHealthCheckId } from "./aws/switch.ts";
import { snsSinks } from "./aws/alert-topic-sinks.ts";
import { checkApplication, kubectlRaw } from "./platform/app-check.ts";
import { parseConnectionMode, resolveConnection, type ConnectionMode } from "./postgres/connection.ts";
import { BackupS3Client } from "./aws/s3-object.ts";
import { verifyBackup } from "./postgres/verify.ts";
import { findPostgresBinDir } from "./postgres/cluster.ts";
import { BadInputError } from "./lib/errors.ts";
import { positiveInt, stringOption, withDefaults } from "./lib/options.ts";
import { isMain, runCli } from "./lib/cli.ts";
import type { OptionSpec, RawOptions, RunContext, Runbook, Step } from "./lib/types.ts";

export const MODES = ["database", "application", "full"] as const;
export type Mode = (typeof MODES)[number];

export interface DrTestOptions {
  mode: Mode;
  connection: ConnectionMode;
  kubeconfig: string | undefined;
  healthPath: string;
  /** The restored database the application copy uses (application and full modes). */
  appDatabase: { host: string; port: number | undefined; name: string | undefined } | undefined;
  /** Environment variables only production may have, removed from the copy. */
  stripEnv: string[];
}

export const DR_TEST_OPTIONS = {
  mode: { type: "string", description: `What to test: ${MODES.join(", ")}` },
  connection: {
    type: "string",
    description: "Server for the scratch database: env (libpq PGHOST…) or outputs",
    default: "env",
  },
  kubeconfig: { type: "string", description: "kubeconfig for the application test (default kubectl's own)" },
  "health-path": { type: "string", description: "HTTP path of the application's health check", default: "/health" },
  "app-database-host": {
    type: "string",
    description:
      "application/full: host of the restored database the application copy uses (the production host is refused)",
  },
  "app-database-port": { type: "string", description: "Port of the restored database (default the stack's)" },
  "app-database-name": {
    type: "string",
    description: "Database name in the restored database (default the stack's)",
  },
  "strip-env": {
    type: "string",
    description:
      "Comma-separated production-only environment variables to remove from the copy (payment keys, webhooks…)",
  },
} satisfies Record<string, OptionSpec>;

export function parseDrTestOptions(raw: RawOptions): DrTestOptions {
  const options = withDefaults(DR_TEST_OPTIONS, raw);
  const mode = options.mode;
  if (typeof mode !== "string" || !(MODES as readonly string[]).includes(mode))
    throw new BadInputError(`invalid --mode "${String(mode ?? "")}": expected one of ${MODES.join(", ")}`);
  const healthPath = stringOption(options, "health-path", "a path like /health");
  if (!/^\/[A-Za-z0-9/_.-]*$/.test(healthPath))
    throw new BadInputError(`invalid --health-path "${healthPath}": expected a path like /health`);
  const host = options["app-database-host"];
  if (host !== undefined && (typeof host !== "string" || !/^[A-Za-z0-9.-]{1,253}$/.test(host)))
    throw new BadInputError(
      `invalid --app-database-host "${String(host)}": expected the host name or address of the restored database`,
    );
  if (mode !== "database" && host === undefined)
    throw new BadInputError(
      `--mode ${mode} needs --app-database-host: the host of a restored database for the application copy (never the production database)`,
    );
  const name = options["app-database-name"];
  if (name !== undefined && (typeof name !== "string" || !/^[A-Za-z_][A-Za-z0-9_]{0,62}$/.test(name)))
    throw new BadInputError(`invalid --app-database-name "${String(name)}": expected a PostgreSQL database name`);
  const strip = options["strip-env"];
  if (
    strip !== undefined &&
    (typeof strip !== "string" || !/^[A-Za-z_][A-Za-z0-9_]*(,[A-Za-z_][A-Za-z0-9_]*)*$/.test(strip))
  )
    throw new BadInputError(
      `invalid --strip-env "${String(strip)}": expected comma-separated environment variable names such as STRIPE_SECRET_KEY,SMTP_URL`,
    );
  return {
    mode: mode as Mode,
    connection: parseConnectionMode(options),
    kubeconfig: typeof options.kubeconfig === "string" ? options.kubeconfig : undefined,
    healthPath,
    appDatabase:
      typeof host === "string"
        ? {
            host,
            port:
              options["app-database-port"] === undefined ? undefined : positiveInt(options, "app-database-port", 65535),
            name: name as string | undefined,
          }
        : undefined,
    stripEnv: typeof strip === "string" ? strip.split(",") : [],
  };
}

type Ctx = RunContext<DrTestOptions>;

const databaseStep: Step<DrTestOptions> = {
  id: "database",
  title: "Restore the latest database backup into a scratch database and verify it",
  dependsOn: [],
  describe: (ctx) => [
    {
      kind: "note",
      action: `verify-backup of the latest backup under s3://${ctx.outputs.backup.bucketName}/${ctx.outputs.backup.prefixes.database} (scratch database always dropped)`,
    },
  ],
  async run(ctx: Ctx) {
    const server = await resolveConnection(ctx, ctx.options.connection, "postgres");
    const report = await ctx.wait("restore and verify", async () =>
      verifyBackup({
        s3: ctx.aws(BackupS3Client, ctx.outputs.region),
        bucket: ctx.outputs.backup.bucketName,
        prefix: ctx.outputs.backup.prefixes.database,
        backupId: "latest",
        server,
        binDir: await findPostgresBinDir(),
      }),
    );
    const failed = report.checks.filter((c) => !c.ok);
    if (!report.scratchDropped)
      failed.push({
        name: "cleanup",
        kind: "restore",
        ok: false,
        detail: `scratch database ${report.scratchDatabase} was not dropped`,
      });
    if (failed.length)
      throw new Error(`database recovery test failed: ${failed.map((c) => `${c.name}: ${c.detail}`).join("; ")}`);
    return { backupId: report.backupId, checks: report.checks.length, scratchDropped: report.scratchDropped };
  },
};

const appDatabase = (ctx: Ctx) => ({
  host: ctx.options.appDatabase!.host,
  port: ctx.options.appDatabase!.port ?? ctx.outputs.database.port,
  name: ctx.options.appDatabase!.name ?? ctx.outputs.database.dbName,
});

const applicationStep: Step<DrTestOptions> = {
  id: "application",
  title:
    "Deploy a copy of the application, pointed at the restored database, into a throwaway namespace and health-check it",
  // Deploys a workload: asks first (--yes for automation).
  destructive: true,
  ungated: "it deploys into a namespace of its own that it creates and deletes; it relies on no earlier check",
  dependsOn: [],
  describe: (ctx) => [
    {
      kind: "command",
      action:
        `kubectl create --raw /api/v1/namespaces (dr-test-<run>); copy deployment ` +
        `${ctx.outputs.kubernetes.namespace}/${ctx.outputs.kubernetes.appDeployment} with ` +
        `${ctx.options.appDatabase ? `DATABASE_HOST=${appDatabase(ctx).host} DATABASE_PORT=${appDatabase(ctx).port} DATABASE_NAME=${appDatabase(ctx).name}` : "a restored database"}, ` +
        `Secrets, production-only ` +
        `variables${ctx.options.stripEnv.length ? ` (${ctx.options.stripEnv.join(", ")})` : ""} and the ` +
        `service account stripped; wait available; GET pod proxy ${ctx.options.healthPath}; kubectl delete ` +
        `--raw the namespace it created (always)`,
    },
  ],
  async run(ctx: Ctx) {
    const k = ctx.outputs.kubernetes;
    if (!k.enabled || !k.namespace || !k.appDeployment)
      throw new BadInputError(
        `stack ${ctx.outputs.stack} runs no Kubernetes application (kubernetes.enabled/namespace/appDeployment): expected --mode database`,
      );
    const r = await ctx.wait("throwaway deployment", () =>
      checkApplication({
        kube: kubectlRaw({ kubeconfig: ctx.options.kubeconfig }),
        sourceNamespace: k.namespace!,
        deployment: k.appDeployment!,
        runId: ctx.runId,
        healthPath: ctx.options.healthPath,
        copy: {
          database: appDatabase(ctx),
          productionHost: ctx.outputs.database.address,
          stripEnv: ctx.options.stripEnv,
        },
      }),
    );
    if (r.problems.length) throw new Error(`application recovery test failed: ${r.problems.join("; ")}`);
    return { ...r };
  },
};

const dnsStep: Step<DrTestOptions> = {
  id: "dns",
  title: "Check the DNS failover records and the primary health check",
  readOnly: true,
  dependsOn: [],
  describe: (ctx) => [
    {
      kind: "aws",
      action: "route53:ListResourceRecordSets + route53:GetHealthCheckStatus",
      detail: { HostedZoneId: ctx.outputs.dns.hostedZoneId, name: ctx.outputs.dns.recordName },
    },
  ],
  async run(ctx: Ctx) {
    const d = ctx.outputs.dns;
    const r53 = ctx.aws(Route53Client, "us-east-1");
    const name = d.recordName.endsWith(".") ? d.recordName : `${d.recordName}.`;
    const sets =
      (
        await r53.send(
          new ListResourceRecordSetsCommand({
            HostedZoneId: d.hostedZoneId,
            StartRecordName: name,
            StartRecordType: d.recordType,
          }),
        )
      ).ResourceRecordSets ?? [];
    const mine = sets.filter((s) => s.Name === name && s.Type === d.recordType);
    const primary = mine.find((s) => s.SetIdentifier === d.primarySetIdentifier);
    const secondary = mine.find((s) => s.SetIdentifier === d.secondarySetIdentifier);
    const problems: string[] = [];
    // The PRIMARY record carries the failover switch (or, in automatic mode, the endpoint check).
    const routing = routingHealthCheckId(ctx.outputs, d.primaryHealthCheckId);
    if (primary?.Failover !== "PRIMARY" || primary.HealthCheckId !== routing)
      problems.push(`PRIMARY record of ${name} missing or without health check ${routing}`);
    if (secondary?.Failover !== "SECONDARY") problems.push(`SECONDARY record of ${name} missing`);
    const status = await r53.send(new GetHealthCheckStatusCommand({ HealthCheckId: d.primaryHealthCheckId }));
    const observations = (status.HealthCheckObservations ?? [])
      .map((o) => o.StatusReport?.Status ?? "")
      .filter(Boolean);
    if (problems.length) throw new Error(problems.join("; "));
    return {
      primaryTarget: primary?.ResourceRecords?.[0]?.Value ?? null,
      secondaryTarget: secondary?.ResourceRecords?.[0]?.Value ?? null,
      healthCheckObservations: observations.length,
    };
  },
};

const monitoringStep: Step<DrTestOptions> = {
  id: "monitoring",
  title: "Check the error-rate alarm and the alert topic exist",
  readOnly: true,
  dependsOn: [],
  describe: (ctx) => [
    {
      kind: "aws",
      action: `cloudwatch:DescribeAlarms + sns:GetTopicAttributes (${ctx.outputs.region})`,
      detail: { alarm: ctx.outputs.services.errorRateAlarmName, topic: ctx.outputs.alerts.topicArn },
    },
  ],
  async run(ctx: Ctx) {
    const alarms = await ctx
      .aws(CloudWatchClient, ctx.outputs.region)
      .send(new DescribeAlarmsCommand({ AlarmNames: [ctx.outputs.services.errorRateAlarmName] }));
    const alarm = alarms.MetricAlarms?.[0];
    if (!alarm) throw new Error(`alarm ${ctx.outputs.services.errorRateAlarmName} not found in ${ctx.outputs.region}`);
    const topic = await ctx
      .aws(SNSClient, ctx.outputs.region)
      .send(new GetTopicAttributesCommand({ TopicArn: ctx.outputs.alerts.topicArn }));
    return {
      alarm: alarm.AlarmName,
      alarmState: alarm.StateValue,
      alarmActionsToTopic: (alarm.AlarmActions ?? []).includes(ctx.outputs.alerts.topicArn),
      subscriptions: Number(topic.Attributes?.SubscriptionsConfirmed ?? 0),
    };
  },
};

export function stepsFor(mode: Mode): Step<DrTestOptions>[] {
  if (mode === "database") return [databaseStep];
  if (mode === "application") return [applicationStep];
  return [databaseStep, applicationStep, dnsStep, monitoringStep];
}

export const runbook: Runbook<DrTestOptions> = {
  name: "dr-test",
  summary:
    "Disaster-recovery test: database restore + verification, throwaway application deployment, DNS and monitoring checks",
  system: "primary-database",
  options: DR_TEST_OPTIONS,
  parseOptions: parseDrTestOptions,
  steps: (options) => stepsFor(options.mode),
};

if (isMain(import.meta.url)) await runCli(runbook, { sinks: snsSinks });
