/**
 * Failback: the reverse of region-failover, once the primary region is back, on the same rails.
 * The primary must answer and look healthy (the same bounded probes as region-failover); the old
 * primary is fenced FIRST (services to 0, no new database connections) in case region-failover
 * could not reach it. With writes stopped, the DR database is snapshotted, the snapshot copied to
 * the primary region and restored into a NEW primary instance, side by side with scaling the
 * primary services; the application is pointed at it and its targets verified; only when the
 * primary endpoint's health check reports healthy is the failover switch disengaged, and the
 * authoritative name servers must then answer the primary again. See runbooks/docs/failback.md.
 *
 *   npx zx runbooks/failback.ts --stack prod --writes-stopped [--yes]
 */
import { RDSClient } from "@aws-sdk/client-rds";
import { Route53Client } from "@aws-sdk/client-route-53";
import type { StackOutputs } from "../contract/stack-outputs.ts";
import { healthCheckState } from "./aws/dns.ts";
import { s3RunStore, TRAFFIC_LOCK_SCOPE } from "./aws/journal-store.ts";
import { failbackPreflight } from "./aws/preflight-checks.ts";
import { failbackDatabaseSteps, newPrimaryId, type FailbackOptions } from "./aws/failback-database.ts";
import { snsSinks } from "./aws/alert-topic-sinks.ts";
import { s3OutputsMirror } from "./aws/outputs-mirror-reader.ts";
import {
  assessPrimary,
  describeProbes,
  parsePrimaryTimeout,
  PRIMARY_TIMEOUT_OPTIONS,
  probeSummary,
  requirePrimaryStack,
  ROUTE53_CONTROL_PLANE,
} from "./aws/primary.ts";
import { describeInstance } from "./aws/rds.ts";
import { backoff } from "./aws/services.ts";
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
import { parseWaitOptions, WAIT_OPTIONS } from "./lib/options.ts";
import { stepFor, type RawOptions, type RunContext, type Runbook } from "./lib/types.ts";
import { retry } from "zx";
import { restoreKubernetesStep } from "./aws/fencing.ts";

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
    ...describeProbes(prod(ctx), ctx.options.primaryTimeoutSeconds),
    {
      kind: "aws",
      action: `rds:DescribeDBInstances (${dr(ctx).region})`,
      detail: { DBInstanceIdentifier: dr(ctx).database.instanceIdentifier },
    },
  ],
  async run(ctx) {
    requirePrimaryStack(ctx, "failback");
    if (!ctx.options.writesStopped) {
      throw new BadInputError(
        "failback copies the DR database at one moment; writes after it would be lost. Stop writes first (maintenance mode), then pass --writes-stopped",
      );
    }
    const a = await assessPrimary(ctx, ctx.options.primaryTimeoutSeconds * 1000);
    if (!a.primaryHealthy && !ctx.force) {
      throw new BadInputError(
        `the primary region ${prod(ctx).region} is not healthy yet (${a.healthCheck}; ${a.database}): refusing to fail back. Pass --force to fail back anyway.`,
      );
    }
    if (!a.primaryHealthy)
      ctx.log.warn(`failing back to a primary that does not look healthy, because of --force (${probeSummary(a)})`);
    const drDb = await describeInstance(ctx.aws(RDSClient, dr(ctx).region), dr(ctx).database.instanceIdentifier);
    if (!drDb)
      throw new BadInputError(
        `nothing to fail back: ${dr(ctx).database.instanceIdentifier} does not exist in ${dr(ctx).region} (was region-failover run?)`,
      );
    return { ...a, drDatabase: `${drDb.DBInstanceIdentifier} is ${drDb.DBInstanceStatus}` };
  },
});

const fenceOldPrimary = fencePrimaryStep<FailbackOptions>({
  id: "fence-old-primary",
  title: "Fence the old primary first (services to 0, no new database connections)",
  dependsOn: [assess],
  required: true,
  boundSeconds: (ctx) => ctx.options.primaryTimeoutSeconds,
});

const { snapshotDrDb, copySnapshot, restorePrimaryDb, waitPrimaryDb } = failbackDatabaseSteps([fenceOldPrimary]);

const scalePrimaryServices = scaleServicesStep<FailbackOptions>({
  id: "scale-primary-services",
  title: "Scale the primary services to their recovery counts",
  dependsOn: [fenceOldPrimary],
  stack: prod,
});

const pointPrimaryApp = pointAppStep<FailbackOptions>({
  id: "point-primary-app",
  title: "Point the primary application at the new primary database",
  dependsOn: [waitPrimaryDb, scalePrimaryServices],
  database: waitPrimaryDb,
  stack: prod,
});

const restorePrimaryKubernetes = restoreKubernetesStep<FailbackOptions>({
  id: "restore-primary-kubernetes",
  title: "Scale the primary's Kubernetes Deployments back to the counts the fence recorded",
  // Once the application points at the new primary: new pods read the new connection.
  dependsOn: [pointPrimaryApp],
  boundSeconds: (ctx) => ctx.options.primaryTimeoutSeconds,
});

const verifyPrimaryTargets = verifyTargetsStep<FailbackOptions>({
  id: "verify-primary-targets",
  dependsOn: [pointPrimaryApp],
  title: "Verify the primary targets are healthy",
  stack: prod,
  milestone: "health_verified",
  gate: true,
});

const checkPrimaryEndpoint = step({
  id: "check-primary-endpoint",
  dependsOn: [verifyPrimaryTargets],
  title: "Check the primary endpoint passes its Route 53 health check",
  readOnly: true,
  describe: (ctx) => [
    {
      kind: "aws",
      action: `route53:GetHealthCheckStatus (${ROUTE53_CONTROL_PLANE})`,
      detail: { HealthCheckId: prod(ctx).dns.primaryHealthCheckId, attempts: ctx.options.healthAttempts },
    },
  ],
  async run(ctx) {
    const id = prod(ctx).dns.primaryHealthCheckId;
    const r53 = ctx.aws(Route53Client, ROUTE53_CONTROL_PLANE);
    let last = "not checked";
    try {
      return await retry(ctx.options.healthAttempts, backoff(ctx.options.healthAttempts), async () => {
        const s = await healthCheckState(r53, id, AbortSignal.timeout(ctx.options.primaryTimeoutSeconds * 1000));
        last = s.detail;
        if (!s.healthy) throw new Error(s.detail);
        return { healthCheckId: id, detail: s.detail };
      });
    } catch (error) {
      throw new Error(
        `the primary endpoint does not pass its health check ${id} (${last}; ${(error as Error).message}) ` +
          `after ${ctx.options.healthAttempts} check(s): the switch stays engaged and clients stay on DR. Fix ` +
          `the primary, then resume`,
        { cause: error },
      );
    }
  },
});

const disengageSwitch = switchStep<FailbackOptions>({
  id: "disengage-switch",
  // Only once the new primary serves and passes the endpoint health check.
  dependsOn: [checkPrimaryEndpoint, verifyPrimaryTargets],
  title: "Disengage the failover switch (clients back to the primary region)",
  position: "disengaged",
  milestone: "switch_disengaged",
});

const verifyClientsBack = clientsMovedStep<FailbackOptions>({
  id: "verify-clients-back",
  dependsOn: [disengageSwitch],
  title: "Prove at the authoritative name servers that clients moved back to the primary",
  target: (ctx) => prod(ctx).dns.primaryTarget,
  milestone: "traffic_moved",
});

const enablePrimaryAlarm = enableAlarmStep<FailbackOptions>({
  id: "enable-primary-alarm",
  title: "Check the primary error-rate alarm exists and enable its actions",
  dependsOn: [verifyClientsBack],
  stack: prod,
});

const steps = [
  assess,
  fenceOldPrimary,
  snapshotDrDb,
  copySnapshot,
  restorePrimaryDb,
  waitPrimaryDb,
  scalePrimaryServices,
  pointPrimaryApp,
  restorePrimaryKubernetes,
  verifyPrimaryTargets,
  checkPrimaryEndpoint,
  disengageSwitch,
  verifyClientsBack,
  enablePrimaryAlarm,
];

export const runbook: Runbook<FailbackOptions> = {
  name: "failback",
  summary:
    "Fail back from the DR region to the recovered primary region (fence, database, services, failover switch, alarm)",
  system: "primary-database",
  needsPeer: true,
  options: {
    "writes-stopped": {
      type: "boolean",
      description: "Confirms writes are stopped (maintenance mode): required, the DR database is copied at one moment",
    },
    ...WAIT_OPTIONS,
    ...PRIMARY_TIMEOUT_OPTIONS,
  },
  parseOptions: (raw: RawOptions) => ({
    ...parseWaitOptions(raw),
    ...parsePrimaryTimeout(raw),
    writesStopped: raw["writes-stopped"] === true,
  }),
  preflight: failbackPreflight,
  sharedStore: s3RunStore,
  lockScope: TRAFFIC_LOCK_SCOPE,
  steps,
  nextSteps: (ctx) => {
    const back = ctx.peek(verifyClientsBack);
    return [
      `End maintenance mode: ${prod(ctx).dns.recordName} is served from ${prod(ctx).region} by ${newPrimaryId(ctx)}${back ? ` (authoritative answer since ${back.answeredAt}; clients honouring the TTL moved by ${back.clientsMovedBy})` : ""}.`,
      `${newPrimaryId(ctx)} is not in Pulumi state: adopt it (pulumi import, then point the stack's database at it) before the next 'pulumi up' on ${prod(ctx).stack}.`,
      `The DR services still run at recovery counts and ${dr(ctx).database.instanceIdentifier} still ` +
        `exists: scale DR back to pilot light and retire that instance only after verification, as an ` +
        `explicit, logged decision.`,
      `The old ${prod(ctx).database.instanceIdentifier} (if it survived) is fenced (its security groups admit nothing) and holds pre-failover data: keep it until reconciliation is signed off.`,
    ];
  },
  checklist: () => [
    "Verify row counts and the newest transactions on the new primary",
    "Confirm automated backups and cross-region replication are enabled for the new primary",
    "Schedule the post-incident review",
  ],
};

if (isMain(import.meta.url)) await runCli(runbook, { sinks: snsSinks, outputsMirror: s3OutputsMirror });
