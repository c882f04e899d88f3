/**
 * Failback: the reverse of region-failover, once the primary region is back, on the same
 * rails. With writes stopped, the DR database is snapshotted, the snapshot copied to the
 * primary region and restored into a NEW primary instance, side by side with scaling the
 * primary services; the application is pointed at it, targets verified, and only then DNS
 * moves back to the primary (with its health check) and the primary alarm is ensured.
 *
 *   npx tsx runbooks/failback.ts --stack prod --writes-stopped [--yes]
 */
import { DescribeDBSnapshotsCommand, RDSClient } from "@aws-sdk/client-rds";
import { Route53Client } from "@aws-sdk/client-route-53";
import type { StackOutputs } from "../infra/outputs.ts";
import { healthCheckState } from "./aws/dns.ts";
import { snsSinks } from "./aws/notify.ts";
import { s3RunStore } from "./aws/journal-store.ts";
import { failbackPreflight } from "./aws/preflight.ts";
import { parseWaitOptions, WAIT_OPTIONS } from "./lib/options.ts";
import { failbackDatabaseSteps, newPrimaryId, type FailbackOptions } from "./aws/failback-database.ts";
import { describeInstance } from "./aws/rds.ts";
import {
  alarmStep,
  moveDnsStep,
  describeRoll,
  pointSecretStep,
  rollServices,
  scaleServicesStep,
  verifyTargetsStep,
} from "./aws/steps.ts";
import { requirePrimaryStack } from "./aws/primary.ts";
import { isMain, runCli } from "./lib/cli.ts";
import { BadInputError, errorMessage } from "./lib/errors.ts";
import { withTimeout } from "./lib/time.ts";
import { stepFor, type RawOptions, type RunContext, type Runbook } from "./lib/types.ts";

type Ctx = RunContext<FailbackOptions>;
const dr = (ctx: Ctx): StackOutputs => ctx.peer!;
const prod = (ctx: Ctx): StackOutputs => ctx.outputs;

const step = stepFor<FailbackOptions>();

const assess = step({
  id: "assess",
  dependsOn: [],
  title: "Check the primary region is back and DR holds the data",
  readOnly: true,
  gate: true,
  milestone: "primary_assessed",
  describe: (ctx) => [
    {
      kind: "aws",
      action: "route53:GetHealthCheckStatus",
      detail: { HealthCheckId: prod(ctx).dns.primaryHealthCheckId },
    },
    {
      kind: "aws",
      action: `rds:DescribeDBInstances (${prod(ctx).region}, ${dr(ctx).region})`,
      detail: { primary: prod(ctx).database.instanceIdentifier, dr: dr(ctx).database.instanceIdentifier },
    },
  ],
  async run(ctx) {
    requirePrimaryStack(ctx, "failback");
    if (!ctx.options.writesStopped) {
      throw new BadInputError(
        "failback copies the DR database at one moment; writes after it would be lost. Stop writes first (maintenance mode), then pass --writes-stopped",
      );
    }
    const hc = await withTimeout(
      healthCheckState(ctx.aws(Route53Client, "us-east-1"), prod(ctx).dns.primaryHealthCheckId),
      20_000,
      "health check status",
    ).catch((e) => ({ healthy: false, detail: errorMessage(e) }));
    const api = await withTimeout(
      ctx.aws(RDSClient, prod(ctx).region).send(new DescribeDBSnapshotsCommand({ MaxRecords: 20 })),
      20_000,
      `RDS in ${prod(ctx).region}`,
    )
      .then(() => ({ ok: true, detail: `RDS in ${prod(ctx).region} answers` }))
      .catch((e) => ({ ok: false, detail: `RDS in ${prod(ctx).region} unreachable: ${errorMessage(e)}` }));
    const healthy = hc.healthy && api.ok;
    if (!healthy && !ctx.force) {
      throw new BadInputError(
        `the primary region ${prod(ctx).region} is not healthy yet (health check: ${hc.detail}; ${api.detail}): refusing to fail back. Pass --force to fail back anyway.`,
      );
    }
    const drDb = await describeInstance(ctx.aws(RDSClient, dr(ctx).region), dr(ctx).database.instanceIdentifier);
    if (!drDb)
      throw new BadInputError(
        `nothing to fail back: ${dr(ctx).database.instanceIdentifier} does not exist in ${dr(ctx).region} (was region-failover run?)`,
      );
    return {
      healthCheck: hc.detail,
      primaryApi: api.detail,
      drDatabase: `${drDb.DBInstanceIdentifier} is ${drDb.DBInstanceStatus}`,
    };
  },
});

const { snapshotDrDb, copySnapshot, restorePrimaryDb, waitPrimaryDb } = failbackDatabaseSteps([assess]);

const scalePrimaryServices = scaleServicesStep<FailbackOptions>({
  id: "scale-primary-services",
  title: "Scale the primary services to their recovery counts",
  dependsOn: [assess],
  stack: prod,
});

const pointPrimaryApp = pointSecretStep<FailbackOptions>({
  id: "point-primary-app",
  title: "Point the primary application at the new primary database",
  dependsOn: [waitPrimaryDb, scalePrimaryServices],
  secret: (ctx) => ({ arn: prod(ctx).database.appConnectionSecretArn, region: prod(ctx).region }),
  database: (ctx) => {
    const w = ctx.peek(waitPrimaryDb);
    return w?.address ? { host: w.address, port: w.port } : undefined;
  },
  after: async (ctx) => ({ redeployed: await rollServices(ctx, prod(ctx)) }),
  describeAfter: (ctx) => describeRoll(ctx, prod(ctx)),
});

const verifyPrimaryTargets = verifyTargetsStep<FailbackOptions>({
  id: "verify-primary-targets",
  dependsOn: [pointPrimaryApp],
  title: "Verify the primary targets are healthy",
  stack: prod,
  milestone: "health_verified",
  gate: true,
});

const moveDnsBack = moveDnsStep<FailbackOptions>({
  id: "move-dns-back",
  dependsOn: [verifyPrimaryTargets],
  title: "Move DNS back to the primary region",
  target: (ctx) => ({ value: prod(ctx).dns.primaryTarget, healthCheckId: prod(ctx).dns.primaryHealthCheckId }),
});

const ensurePrimaryAlarm = alarmStep<FailbackOptions>({
  id: "ensure-primary-alarm",
  title: "Ensure the primary error-rate alarm",
  dependsOn: [moveDnsBack],
  stack: prod,
});

const steps = [
  assess,
  snapshotDrDb,
  copySnapshot,
  restorePrimaryDb,
  waitPrimaryDb,
  scalePrimaryServices,
  pointPrimaryApp,
  verifyPrimaryTargets,
  moveDnsBack,
  ensurePrimaryAlarm,
];

export const runbook: Runbook<FailbackOptions> = {
  name: "failback",
  summary: "Fail back from the DR region to the recovered primary region (database, services, DNS, alarm)",
  system: "primary-database",
  needsPeer: true,
  options: {
    "writes-stopped": {
      type: "boolean",
      description: "Confirms writes are stopped (maintenance mode): required, the DR database is copied at one moment",
    },
    ...WAIT_OPTIONS,
  },
  parseOptions: (raw: RawOptions) => ({ ...parseWaitOptions(raw), writesStopped: raw["writes-stopped"] === true }),
  preflight: failbackPreflight,
  sharedStore: s3RunStore,
  steps,
  nextSteps: (ctx) => [
    `End maintenance mode: ${prod(ctx).dns.recordName} is served from ${prod(ctx).region} by ${newPrimaryId(ctx)}.`,
    `${newPrimaryId(ctx)} is not in Pulumi state: adopt it (pulumi import, then point the stack's database at it) before the next 'pulumi up' on ${prod(ctx).stack}.`,
    `The DR services still run at recovery counts and ${dr(ctx).database.instanceIdentifier} still exists: scale DR back to pilot light and retire that instance only after verification, as an explicit, logged decision.`,
    `The old ${prod(ctx).database.instanceIdentifier} (if it survived) holds pre-failover data: keep it until reconciliation is signed off.`,
  ],
  checklist: () => [
    "Verify row counts and the newest transactions on the new primary",
    "Confirm automated backups and cross-region replication are enabled for the new primary",
    "Schedule the post-incident review",
  ],
};

if (isMain(import.meta.url)) await runCli(runbook, { sinks: snsSinks });
