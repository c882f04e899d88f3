/**
 * Primary region failure (the plan's disaster-recovery-failover.sh, fixed): assess the
 * primary; restore the database in the DR region and scale the DR services side by side;
 * wait for both; point the DR application at the restored database; verify target health;
 * only then move DNS to DR and verify the record; create the DR alarm; report RTO and RPO.
 *
 *   npx tsx runbooks/region-failover.ts --stack prod [--force] [--yes]
 */
import { RDSClient } from "@aws-sdk/client-rds";
import type { StackOutputs } from "../infra/outputs.ts";
import { assessPrimary, requirePrimaryStack } from "./aws/primary.ts";
import { findRecoverySource, restoreInRegion, type RecoverySource } from "./aws/dr-database.ts";
import { snsSinks } from "./aws/notify.ts";
import { s3RunStore } from "./aws/journal-store.ts";
import { regionFailoverPreflight } from "./aws/preflight.ts";
import { parseWaitOptions, WAIT_OPTIONS, type WaitOptions } from "./lib/options.ts";
import { checkInstance, describeInstance, settingsFromOutputs, waitInstanceAvailable } from "./aws/rds.ts";
import {
  alarmStep,
  moveDnsStep,
  describeRoll,
  pointSecretStep,
  rollServices,
  scaleServicesStep,
  verifyTargetsStep,
} from "./aws/steps.ts";
import { isMain, runCli } from "./lib/cli.ts";
import { BadInputError } from "./lib/errors.ts";
import { stepFor, type RunContext, type Runbook } from "./lib/types.ts";

type Ctx = RunContext<WaitOptions>;
const dr = (ctx: Ctx): StackOutputs => ctx.peer!;

const step = stepFor<WaitOptions>();

const assessPrimaryStep = step({
  id: "assess-primary",
  dependsOn: [],
  title: "Assess the primary region",
  readOnly: true,
  gate: true,
  milestone: "primary_assessed",
  describe: (ctx) => [
    {
      kind: "aws",
      action: "route53:GetHealthCheckStatus",
      detail: { HealthCheckId: ctx.outputs.dns.primaryHealthCheckId },
    },
    {
      kind: "aws",
      action: `rds:DescribeDBInstances (${ctx.outputs.region})`,
      detail: { DBInstanceIdentifier: ctx.outputs.database.instanceIdentifier },
    },
  ],
  async run(ctx) {
    requirePrimaryStack(ctx, "region-failover");
    const a = await assessPrimary(ctx);
    if (a.primaryHealthy && !ctx.force) {
      throw new BadInputError(
        `the primary region ${ctx.outputs.region} looks healthy (${a.healthCheck}; ${a.database}): refusing to fail over. Pass --force to fail over anyway (e.g. a degradation these checks do not see).`,
      );
    }
    if (a.forced)
      ctx.log.warn(`failing over a primary that looks healthy, because of --force (${a.healthCheck}; ${a.database})`);
    return { ...a };
  },
});

const chooseRecoverySource = step({
  id: "choose-recovery-source",
  dependsOn: [assessPrimaryStep],
  title: "Choose the database recovery source in the DR region",
  readOnly: true,
  milestone: "backup_identified",
  describe: (ctx) => [
    {
      kind: "aws",
      action: `rds:DescribeDBInstanceAutomatedBackups (${dr(ctx).region})`,
      detail: { DBInstanceAutomatedBackupsArn: ctx.outputs.database.replicatedBackupsArn },
    },
    {
      kind: "aws",
      action: `rds:DescribeDBSnapshots (${dr(ctx).region}) if no replicated backups`,
      detail: { DBInstanceIdentifier: ctx.outputs.database.instanceIdentifier },
    },
  ],
  run: async (ctx): Promise<RecoverySource> => ({
    ...(await findRecoverySource(
      ctx.aws(RDSClient, dr(ctx).region),
      dr(ctx).region,
      ctx.outputs.database.instanceIdentifier,
      ctx.outputs.database.replicatedBackupsArn,
      ctx.log,
    )),
  }),
});

const restoreDatabase = step({
  id: "restore-database",
  dependsOn: [chooseRecoverySource],
  title: "Restore the database in the DR region",
  milestone: "restore_started",
  describe: (ctx) => {
    const src = ctx.peek(chooseRecoverySource);
    const settings = settingsFromOutputs(dr(ctx).database);
    return [
      src?.method === "replicated-backups"
        ? {
            kind: "aws",
            action: `rds:RestoreDBInstanceToPointInTime (${dr(ctx).region})`,
            detail: {
              SourceDBInstanceAutomatedBackupsArn: src.automatedBackupsArn,
              RestoreTime: src.restoreTime,
              TargetDBInstanceIdentifier: dr(ctx).database.instanceIdentifier,
              ...settings,
            },
          }
        : {
            kind: "aws",
            action: `rds:RestoreDBInstanceFromDBSnapshot (${dr(ctx).region})`,
            detail: {
              DBSnapshotIdentifier: src?.method === "copied-snapshot" ? src.snapshotId : "<newest copied snapshot>",
              DBInstanceIdentifier: dr(ctx).database.instanceIdentifier,
              ...settings,
            },
          },
    ];
  },
  async isDone(ctx) {
    const i = await describeInstance(ctx.aws(RDSClient, dr(ctx).region), dr(ctx).database.instanceIdentifier);
    return i
      ? {
          instanceIdentifier: dr(ctx).database.instanceIdentifier,
          status: i.DBInstanceStatus ?? "unknown",
          note: "already exists",
        }
      : false;
  },
  async run(ctx): Promise<{ instanceIdentifier: string; status: string; method?: string; note?: string }> {
    const src = ctx.result(chooseRecoverySource);
    const status = await restoreInRegion(
      ctx.aws(RDSClient, dr(ctx).region),
      src,
      dr(ctx).database.instanceIdentifier,
      settingsFromOutputs(dr(ctx).database),
      ctx.runbook,
      ctx.runId,
    );
    return { instanceIdentifier: dr(ctx).database.instanceIdentifier, status, method: src.method };
  },
});

const waitDatabase = step({
  id: "wait-database",
  dependsOn: [restoreDatabase],
  title: "Wait until the DR database is available",
  milestone: "restore_completed",
  gate: true,
  describe: (ctx) => [
    {
      kind: "aws",
      action: `rds:waitUntilDBInstanceAvailable (${dr(ctx).region})`,
      detail: {
        DBInstanceIdentifier: dr(ctx).database.instanceIdentifier,
        maxWaitMinutes: ctx.options.maxWaitMinutes,
      },
    },
  ],
  async run(ctx) {
    const rds = ctx.aws(RDSClient, dr(ctx).region);
    await ctx.wait(`${dr(ctx).database.instanceIdentifier} to become available`, () =>
      waitInstanceAvailable(rds, dr(ctx).database.instanceIdentifier, ctx.options.maxWaitMinutes, ctx.signal),
    );
    const i = (await describeInstance(rds, dr(ctx).database.instanceIdentifier))!;
    return {
      instanceIdentifier: i.DBInstanceIdentifier,
      address: i.Endpoint?.Address ?? null,
      port: i.Endpoint?.Port ?? dr(ctx).database.port,
    };
  },
  async verify(ctx) {
    const i = await describeInstance(ctx.aws(RDSClient, dr(ctx).region), dr(ctx).database.instanceIdentifier);
    if (!i) throw new Error(`${dr(ctx).database.instanceIdentifier} disappeared`);
    checkInstance(i, settingsFromOutputs(dr(ctx).database));
  },
});

const scaleServices = scaleServicesStep<WaitOptions>({
  id: "scale-services",
  title: "Scale the DR services to their recovery counts",
  dependsOn: [assessPrimaryStep],
  stack: dr,
});

const pointDrApp = pointSecretStep<WaitOptions>({
  id: "point-dr-app",
  title: "Point the DR application at the DR database",
  dependsOn: [waitDatabase, scaleServices],
  secret: (ctx) => ({ arn: dr(ctx).database.appConnectionSecretArn, region: dr(ctx).region }),
  database: (ctx) => {
    const w = ctx.peek(waitDatabase);
    return w?.address ? { host: w.address, port: w.port } : undefined;
  },
  after: async (ctx) => ({ redeployed: await rollServices(ctx, dr(ctx)) }),
  describeAfter: (ctx) => describeRoll(ctx, dr(ctx)),
});

const verifyTargets = verifyTargetsStep<WaitOptions>({
  id: "verify-targets",
  dependsOn: [pointDrApp],
  title: "Verify the DR targets are healthy",
  stack: dr,
  milestone: "health_verified",
  gate: true,
});

const moveDns = moveDnsStep<WaitOptions>({
  id: "move-dns",
  dependsOn: [verifyTargets],
  title: "Move DNS to the DR region",
  target: (ctx) => ({ value: ctx.outputs.dns.secondaryTarget, healthCheckId: undefined }),
});

const createDrAlarm = alarmStep<WaitOptions>({
  id: "create-dr-alarm",
  title: "Create the DR error-rate alarm",
  dependsOn: [moveDns],
  stack: dr,
});

const steps = [
  assessPrimaryStep,
  chooseRecoverySource,
  restoreDatabase,
  waitDatabase,
  scaleServices,
  pointDrApp,
  verifyTargets,
  moveDns,
  createDrAlarm,
];

export const runbook: Runbook<WaitOptions> = {
  name: "region-failover",
  summary: "Fail over from the primary region to the DR region (database, services, DNS, alarm)",
  system: "primary-database",
  needsPeer: true,
  options: WAIT_OPTIONS,
  parseOptions: parseWaitOptions,
  preflight: regionFailoverPreflight,
  sharedStore: s3RunStore,
  steps,
  nextSteps: (ctx) => [
    `Announce that ${ctx.outputs.dns.recordName} is served from ${dr(ctx).region}; watch alarm ${dr(ctx).services.errorRateAlarmName}.`,
    `${dr(ctx).database.instanceIdentifier} was restored out of band (not in Pulumi state): do not run 'pulumi up' on the dr stack in a way that replaces it.`,
    `Leave ${ctx.outputs.database.instanceIdentifier} in ${ctx.outputs.region} untouched: it holds writes made after the recovery point, for reconciliation.`,
    `When the primary region is back: npx tsx runbooks/failback.ts --stack ${ctx.outputs.stack}`,
  ],
  checklist: () => [
    "Reconcile writes between the recovery point and the incident",
    "Confirm backups run in the DR region for the restored instance",
    "Schedule the post-incident review",
  ],
};

if (isMain(import.meta.url)) await runCli(runbook, { sinks: snsSinks });
