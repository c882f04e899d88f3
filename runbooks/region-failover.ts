/**
 * Primary region failure (the plan's disaster-recovery-failover.sh, fixed): probe the primary
 * (bounded, side by side, alongside the DR work); restore the database in the DR region from the
 * newest source there and scale the DR services side by side; point the DR application at the
 * restored database; verify target health; only then engage the failover switch (CloudWatch in
 * the DR region) and prove from the zone's authoritative name servers that clients moved; enable
 * the DR error-rate alarm's actions; fence the old primary (bounded; reported when it does not
 * answer). Nothing on the path to "traffic on DR" waits on the primary region or a global control
 * plane longer than the probes' bound. See runbooks/docs/region-failover.md.
 *
 *   npx zx runbooks/region-failover.ts --stack prod [--force] [--yes]
 */
import { BackupClient } from "@aws-sdk/client-backup";
import { RDSClient } from "@aws-sdk/client-rds";
import type { StackOutputs } from "../contract/stack-outputs.ts";
import { findRecoverySource, restoreInRegion, type RecoverySource } from "./aws/dr-database.ts";
import { FENCE_TAG } from "../contract/fence-record.ts";
import type { FenceResult } from "./aws/fencing.ts";
import { failoverSinks } from "./aws/alert-topic-sinks.ts";
import { s3OutputsMirror } from "./aws/outputs-mirror-reader.ts";
import {
  assessPrimary,
  describeProbes,
  parsePrimaryTimeout,
  PRIMARY_TIMEOUT_OPTIONS,
  probeSummary,
  requirePrimaryStack,
  type PrimaryTimeoutOptions,
} from "./aws/primary.ts";
import { s3RunStore, TRAFFIC_LOCK_SCOPE } from "./aws/journal-store.ts";
import { regionFailoverPreflight } from "./aws/preflight-checks.ts";
import { checkInstance, describeInstance, settingsFromOutputs, waitInstanceAvailable } from "./aws/rds.ts";
import {
  clientsMovedStep,
  enableAlarmStep,
  fencePrimaryStep,
  pointAppStep,
  scaleServicesStep,
  switchStep,
  verifyTargetsStep,
} from "./aws/steps.ts";
import { isMain, runCli } from "./lib/cli.ts";
import { BadInputError } from "./lib/errors.ts";
import { parseWaitOptions, WAIT_OPTIONS, type WaitOptions } from "./lib/options.ts";
import { stepFor, type RawOptions, type RunContext, type Runbook } from "./lib/types.ts";

type FailoverOptions = WaitOptions & PrimaryTimeoutOptions & { unprovenRecord: boolean };
type Ctx = RunContext<FailoverOptions>;
const dr = (ctx: Ctx): StackOutputs => ctx.peer!;
const boundMs = (ctx: Ctx) => ctx.options.primaryTimeoutSeconds * 1000;

const step = stepFor<FailoverOptions>();

const assessPrimaryStep = step({
  id: "assess-primary",
  dependsOn: [],
  title: "Probe the primary region (bounded, side by side)",
  readOnly: true,
  gate: true,
  milestone: "primary_assessed",
  describe: (ctx) => describeProbes(ctx.outputs, ctx.options.primaryTimeoutSeconds),
  async run(ctx) {
    requirePrimaryStack(ctx, "region-failover");
    const a = await assessPrimary(ctx, boundMs(ctx));
    if (a.primaryHealthy && !ctx.force) {
      throw new BadInputError(
        `the primary region ${ctx.outputs.region} looks healthy (${a.healthCheck}; ${a.database}): refusing ` +
          `to fail over. Pass --force to fail over anyway (e.g. a degradation these checks do not see).`,
      );
    }
    if (a.forced) ctx.log.warn(`failing over a primary that looks healthy, because of --force (${probeSummary(a)})`);
    for (const u of a.unreachable) ctx.log.warn(`could not reach: ${u}`);
    return { ...a };
  },
});

const chooseRecoverySource = step({
  id: "choose-recovery-source",
  // DR-region reads only: runs alongside the probes.
  dependsOn: [],
  title: "Choose the newest database recovery source in the DR region",
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
      action: `backup:ListRecoveryPointsByBackupVault (${dr(ctx).region})`,
      detail: { BackupVaultName: dr(ctx).backup.vaultName, ByResourceType: "RDS" },
    },
    {
      kind: "aws",
      action: `rds:DescribeDBSnapshots (${dr(ctx).region}) SnapshotType manual and awsbackup`,
      detail: { DBInstanceIdentifier: ctx.outputs.database.instanceIdentifier },
    },
  ],
  async run(ctx): Promise<RecoverySource> {
    const source = await findRecoverySource({
      rds: ctx.aws(RDSClient, dr(ctx).region),
      backup: { client: ctx.aws(BackupClient, dr(ctx).region), vaultName: dr(ctx).backup.vaultName },
      region: dr(ctx).region,
      sourceInstanceId: ctx.outputs.database.instanceIdentifier,
      sourceInstanceArn: ctx.outputs.database.instanceArn,
      replicatedBackupsArn: ctx.outputs.database.replicatedBackupsArn,
      log: ctx.log,
    });
    ctx.log.info(`recovery source: ${source.recoveryPointSource} (data up to ${source.recoveryPointAt})`);
    return { ...source };
  },
});

const restoreDatabase = step({
  id: "restore-database",
  dependsOn: [chooseRecoverySource, assessPrimaryStep],
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
              DBSnapshotIdentifier: src ? (src.snapshotArn ?? src.snapshotId) : "<newest snapshot in the DR region>",
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

const scaleServices = scaleServicesStep<FailoverOptions>({
  id: "scale-services",
  title: "Scale the DR services to their recovery counts",
  dependsOn: [assessPrimaryStep],
  stack: dr,
});

const pointDrApp = pointAppStep<FailoverOptions>({
  id: "point-dr-app",
  title: "Point the DR application at the DR database",
  dependsOn: [waitDatabase, scaleServices],
  database: waitDatabase,
  stack: dr,
});

const verifyTargets = verifyTargetsStep<FailoverOptions>({
  id: "verify-targets",
  dependsOn: [pointDrApp],
  title: "Verify the DR targets are healthy",
  stack: dr,
  milestone: "health_verified",
  gate: true,
});

const engageSwitch = switchStep<FailoverOptions>({
  id: "engage-switch",
  // Only once the DR database is available and its targets are healthy.
  dependsOn: [verifyTargets, waitDatabase],
  title: "Engage the failover switch (clients to the DR region)",
  position: "engaged",
  milestone: "switch_engaged",
});

const verifyClientsMoved = clientsMovedStep<FailoverOptions>({
  id: "verify-clients-moved",
  dependsOn: [engageSwitch],
  title: "Prove at the authoritative name servers that clients moved to DR",
  target: (ctx) => ctx.outputs.dns.secondaryTarget,
  milestone: "traffic_moved",
});

const enableDrAlarm = enableAlarmStep<FailoverOptions>({
  id: "enable-dr-alarm",
  title: "Check the DR error-rate alarm exists and enable its actions",
  // After traffic is on DR: a missing alarm must not hold the failover back.
  dependsOn: [verifyClientsMoved],
  stack: dr,
});

const fencePrimary = fencePrimaryStep<FailoverOptions>({
  id: "fence-primary",
  title: "Fence the old primary (services to 0, no new database connections)",
  dependsOn: [engageSwitch],
  required: false,
  boundSeconds: (ctx) => ctx.options.primaryTimeoutSeconds,
});

const steps = [
  assessPrimaryStep,
  chooseRecoverySource,
  restoreDatabase,
  waitDatabase,
  scaleServices,
  pointDrApp,
  verifyTargets,
  engageSwitch,
  verifyClientsMoved,
  enableDrAlarm,
  fencePrimary,
];

/** The fence record this run found or wrote on the old primary, when it fenced it. */
const fencedBy = (ctx: Ctx): string | null => {
  const fence = ctx.peek(fencePrimary) as FenceResult | undefined;
  return fence?.fenced ? fence.database.fencedBy : null;
};

/** What the next steps say about fencing and what could not be reached, from the run's results. */
function fencingLines(ctx: Ctx): string[] {
  const fence = ctx.peek(fencePrimary) as FenceResult | undefined;
  const probes = ctx.peek(assessPrimaryStep);
  const lines: string[] = [];
  if (fence && !fence.fenced)
    lines.push(
      `PRIMARY NOT FENCED (${fence.unreachable.join("; ")}). Its services may still run and its database ` +
        `still accepts connections: as soon as ${ctx.outputs.region} answers, run npx zx ` +
        `runbooks/fence-primary.ts --stack ${ctx.outputs.stack} (failback also fences first). Until then ` +
        `keep the switch engaged.`,
    );
  if (probes?.unreachable.length)
    lines.push(`Could not be reached during the run (bounded, optional probes): ${probes.unreachable.join("; ")}.`);
  return lines;
}

export const runbook: Runbook<FailoverOptions> = {
  name: "region-failover",
  summary:
    "Fail over from the primary region to the DR region (database, services, failover switch, DR alarm, fencing)",
  system: "primary-database",
  needsPeer: true,
  options: {
    ...WAIT_OPTIONS,
    ...PRIMARY_TIMEOUT_OPTIONS,
    "unproven-record": {
      type: "boolean",
      description:
        "Go on when no authoritative name server answers for the failover record in the preflight (logged; a record they say does not exist still refuses)",
    },
  },
  parseOptions: (raw: RawOptions) => ({
    ...parseWaitOptions(raw),
    ...parsePrimaryTimeout(raw),
    unprovenRecord: raw["unproven-record"] === true,
  }),
  preflight: (ctx) => regionFailoverPreflight(ctx, { unprovenRecord: ctx.options.unprovenRecord }),
  sharedStore: s3RunStore,
  lockScope: TRAFFIC_LOCK_SCOPE,
  steps,
  nextSteps: (ctx) => {
    const moved = ctx.peek(verifyClientsMoved);
    return [
      ...fencingLines(ctx),
      `Announce that ${ctx.outputs.dns.recordName} is served from ` +
        `${dr(ctx).region}${moved ? ` (authoritative answer since ${moved.answeredAt}; clients honouring the TTL moved by ${moved.clientsMovedBy})` : ""}; ` +
        `watch alarm ${dr(ctx).services.errorRateAlarmName}.`,
      `The failover switch stays engaged until failback disengages it: nothing flips traffic back by ` +
        `itself, and pulumi up of either stack does not reset it. Do not write ` +
        `${ctx.outputs.failover.switch.namespace}/${ctx.outputs.failover.switch.metricName} by hand.`,
      `${dr(ctx).database.instanceIdentifier} was restored out of band (not in Pulumi state): do not run 'pulumi up' on the dr stack in a way that replaces it.`,
      fencedBy(ctx)
        ? `Leave ${ctx.outputs.database.instanceIdentifier} in ${ctx.outputs.region} untouched (fenced, not deleted): it holds writes made after the recovery point, for reconciliation. Its fence is recorded on it (${FENCE_TAG.by} ${fencedBy(ctx)}): a 'pulumi up' of ${ctx.outputs.stack} keeps it.`
        : `Never delete ${ctx.outputs.database.instanceIdentifier} in ${ctx.outputs.region}: it holds writes made after the recovery point, for reconciliation. It is NOT fenced yet (see above): fence it first, then leave it untouched.`,
      `When the primary region is back: npx zx runbooks/failback.ts --stack ${ctx.outputs.stack} --writes-stopped`,
    ];
  },
  checklist: () => [
    "Reconcile writes between the recovery point and the incident",
    "Confirm backups run in the DR region for the restored instance",
    "Schedule the post-incident review",
  ],
};

if (isMain(import.meta.url))
  await runCli(runbook, {
    sinks: (outputs, clients, peer) => failoverSinks(outputs, clients, peer),
    outputsMirror: s3OutputsMirror,
  });
