/**
 * Knows before the day whether the DR region can take over: compares what DR would need with
 * what is there and prints a table of every difference, exiting non-zero when there is one. It
 * compares each service's task definition (image, environment, secret references, CPU and
 * memory) with prod's, looks for prod's images in the DR registry, the DR database's engine
 * version and parameters against prod's, the secrets and KMS keys DR needs, the failover
 * switch's alarm, health check and records as declared, and the outputs mirror against the
 * outputs in use. It also validates the restore tests of the DR copies (reporting the result to
 * AWS Backup) and checks the paths AWS publishes no usable metric for: the newest copy in the DR
 * vault, the newest ElastiCache automatic snapshot, the newest validated restore test, the images
 * replicated to DR; with `--publish-metrics` (the scheduled job) each fresh path records its
 * heartbeat. Read-only except the validation results. See runbooks/docs/check-dr-readiness.md.
 *
 *   node runbooks/check-dr-readiness.ts --stack prod [--publish-metrics]
 */
import { CloudWatchClient, PutMetricDataCommand } from "@aws-sdk/client-cloudwatch";
import { GetObjectCommand } from "@aws-sdk/client-s3";
import { RDSClient } from "@aws-sdk/client-rds";
import { JOB_SUCCESS_METRIC } from "../contract/jobs.ts";
import { OUTPUTS_MIRROR, parseStackOutputs, type StackOutputs } from "../contract/stack-outputs.ts";
import { DR_REGION_PATH, restoreTestingPlanName } from "../contract/dr-readiness.ts";
import { backupJobSinks } from "./aws/alert-topic-sinks.ts";
import {
  cacheSnapshotFreshness,
  drCopyFreshness,
  drRestoreTestingPlanArn,
  restoreTestFreshness,
  validateRestoreTests,
  type Freshness,
} from "./aws/backup-freshness.ts";
import { describeInstance } from "./aws/rds.ts";
import { driftTable, type Drift } from "./aws/readiness-compare.ts";
import {
  databaseDrift,
  missingImages,
  secretsAndKeysDrift,
  switchDrift,
  taskDefinitionDrift,
} from "./aws/readiness-reads.ts";
import { BackupS3Client } from "./aws/s3-object.ts";
import { isMain, runCli } from "./lib/cli.ts";
import { BadInputError } from "./lib/errors.ts";
import { positiveInt } from "./lib/options.ts";
import { stepFor, type RawOptions, type RunContext, type Runbook } from "./lib/types.ts";

export interface ReadinessOptions {
  publishMetrics: boolean;
  /** Oldest acceptable newest copy in the DR vault (default 1.5 × the plan's 6-hour snapshots). */
  maxCopyAgeMinutes: number;
  /** Oldest acceptable newest ElastiCache automatic snapshot (default 1.5 days: daily snapshots). */
  maxSnapshotAgeMinutes: number;
  /** Oldest acceptable newest validated restore test (default a week + the 24 h start window + 2 h). */
  maxRestoreTestAgeMinutes: number;
}

/** The defaults, from the plan's schedules (the job passes the stack's own). */
export const READINESS_DEFAULTS = {
  maxCopyAgeMinutes: 540,
  maxSnapshotAgeMinutes: 2160,
  maxRestoreTestAgeMinutes: 7 * 1440 + 26 * 60,
} as const;

const WEEKS_4 = 4 * 7 * 1440;

export function parseReadinessOptions(raw: RawOptions): ReadinessOptions {
  const minutes = (name: string, fallback: number) =>
    raw[name] === undefined ? fallback : positiveInt(raw, name, WEEKS_4);
  return {
    publishMetrics: raw["publish-metrics"] === true,
    maxCopyAgeMinutes: minutes("max-copy-age-minutes", READINESS_DEFAULTS.maxCopyAgeMinutes),
    maxSnapshotAgeMinutes: minutes("max-snapshot-age-minutes", READINESS_DEFAULTS.maxSnapshotAgeMinutes),
    maxRestoreTestAgeMinutes: minutes("max-restore-test-age-minutes", READINESS_DEFAULTS.maxRestoreTestAgeMinutes),
  };
}

type Ctx = RunContext<ReadinessOptions>;
const step = stepFor<ReadinessOptions>();

async function readMirror(ctx: Ctx, stack: string) {
  const m = ctx.outputs.failover.outputsMirror;
  const key = OUTPUTS_MIRROR.key(stack);
  try {
    const r = await ctx.aws(BackupS3Client, m.region).send(new GetObjectCommand({ Bucket: m.bucketName, Key: key }));
    const text = (await r.Body?.transformToString()) ?? "";
    return {
      outputs: parseStackOutputs(JSON.parse(text), `s3://${m.bucketName}/${key}`),
      lastModified: r.LastModified ?? null,
    };
  } catch (error) {
    if ((error as { name?: string }).name === "NoSuchKey") return undefined;
    throw error;
  }
}

const readDr = step({
  id: "read-dr-outputs",
  dependsOn: [],
  title: "Read both stacks' outputs from the DR-region mirror and compare prod's with the outputs in use",
  readOnly: true,
  describe: (ctx) => [
    {
      kind: "aws",
      action: `s3:GetObject (${ctx.outputs.failover.outputsMirror.region})`,
      detail: {
        Bucket: ctx.outputs.failover.outputsMirror.bucketName,
        Keys: [OUTPUTS_MIRROR.key(ctx.outputs.stack), OUTPUTS_MIRROR.key(ctx.outputs.peerStack)],
      },
    },
  ],
  async run(ctx) {
    if (ctx.outputs.role !== "primary")
      throw new BadInputError(
        `check-dr-readiness compares the primary stack with its DR stack: --stack must have role "primary", got "${ctx.outputs.stack}" (role "${ctx.outputs.role}")`,
      );
    const [prodCopy, drCopy] = await Promise.all([
      readMirror(ctx, ctx.outputs.stack),
      readMirror(ctx, ctx.outputs.peerStack),
    ]);
    const drift: Drift[] = [];
    const where = `mirror ${ctx.outputs.failover.outputsMirror.bucketName} (${ctx.outputs.failover.outputsMirror.region})`;
    if (!drCopy)
      throw new Error(
        `the ${where} holds no outputs of stack ${ctx.outputs.peerStack}: DR cannot find its own outputs on the day; run pulumi up on ${ctx.outputs.peerStack}`,
      );
    if (!prodCopy)
      drift.push({
        kind: "outputs-mirror",
        what: `${where} ${OUTPUTS_MIRROR.key(ctx.outputs.stack)}`,
        prod: "in use",
        dr: "absent",
      });
    else if (JSON.stringify(prodCopy.outputs) !== JSON.stringify(ctx.outputs))
      drift.push({
        kind: "outputs-mirror",
        what: `${where} ${OUTPUTS_MIRROR.key(ctx.outputs.stack)}`,
        prod: "the outputs in use",
        dr: `stale copy (written ${prodCopy.lastModified?.toISOString() ?? "at an unknown time"})`,
      });
    return {
      dr: drCopy.outputs,
      drift,
      mirrorAgeMinutes: Object.fromEntries(
        [
          [ctx.outputs.stack, prodCopy],
          [ctx.outputs.peerStack, drCopy],
        ].map(([s, c]) => [
          s as string,
          c && typeof c === "object" && c.lastModified
            ? Math.round((Date.now() - c.lastModified.getTime()) / 60_000)
            : null,
        ]),
      ),
    };
  },
});

const dr = (ctx: Ctx): StackOutputs => ctx.result(readDr).dr as StackOutputs;

const compareServices = step({
  id: "compare-services",
  dependsOn: [readDr],
  title: "Compare each service's task definition with prod's and look for prod's images in the DR registry",
  readOnly: true,
  describe: (ctx) => [
    {
      kind: "aws",
      action: `ecs:DescribeServices, ecs:DescribeTaskDefinition (${ctx.outputs.region}, ${ctx.outputs.peerRegion})`,
    },
    { kind: "aws", action: `ecr:DescribeImages (${ctx.outputs.peerRegion})` },
  ],
  async run(ctx) {
    const aws = ctx.aws.bind(ctx);
    const t = await taskDefinitionDrift(aws, ctx.outputs, dr(ctx));
    const images = await missingImages(aws, t.prodDefinitions, ctx.outputs.peerRegion);
    const secrets = await secretsAndKeysDrift(aws, dr(ctx), t.drDefinitions);
    return { drift: [...t.drift, ...images, ...secrets], imagesReplicated: images.length === 0 };
  },
});

const compareDatabaseStep = step({
  id: "compare-database",
  dependsOn: [readDr],
  title: "Compare the DR database's engine version and parameters with prod's",
  readOnly: true,
  describe: (ctx) => [
    {
      kind: "aws",
      action: `rds:DescribeDBInstances, rds:DescribeDBParameters (${ctx.outputs.region}, ${ctx.outputs.peerRegion})`,
    },
  ],
  async run(ctx) {
    return { drift: await databaseDrift(ctx.aws.bind(ctx), ctx.outputs, dr(ctx)) };
  },
});

const checkSwitch = step({
  id: "check-switch",
  dependsOn: [readDr],
  title: "Check the failover switch's alarm, health check and records are as declared",
  readOnly: true,
  describe: (ctx) => [
    {
      kind: "aws",
      action: `cloudwatch:DescribeAlarms (${ctx.outputs.failover.switch.region}); route53:GetHealthCheck, route53:ListResourceRecordSets`,
    },
  ],
  async run(ctx) {
    return { drift: await switchDrift(ctx.aws.bind(ctx), ctx.outputs, dr(ctx)) };
  },
});

const validateRestores = step({
  id: "validate-restore-tests",
  dependsOn: [readDr],
  title: "Validate the restore tests of the DR copies and report each result to AWS Backup",
  describe: (ctx) => [
    {
      kind: "aws",
      action: `backup:ListRestoreTestingPlans, backup:ListRestoreJobs, rds:DescribeDBInstances, backup:PutRestoreValidationResult (${ctx.outputs.peerRegion})`,
      detail: { plan: restoreTestingPlanName(ctx.outputs.peerStack) },
    },
  ],
  async run(ctx) {
    const aws = ctx.aws.bind(ctx);
    const planArn = await drRestoreTestingPlanArn(aws, dr(ctx), restoreTestingPlanName(ctx.outputs.peerStack));
    if (!planArn) return { planArn: null, validations: [] };
    const live = await describeInstance(
      ctx.aws(RDSClient, ctx.outputs.region),
      ctx.outputs.database.instanceIdentifier,
    );
    const validations = await validateRestoreTests(
      aws,
      ctx.outputs,
      dr(ctx),
      planArn,
      live?.EngineVersion ?? ctx.outputs.database.engineVersion,
    );
    for (const v of validations) ctx.log.info(`restore test ${v.restoreJobId}: ${v.status} (${v.message})`);
    return { planArn, validations };
  },
});

const checkFreshness = step({
  id: "check-backup-freshness",
  dependsOn: [readDr, validateRestores, compareServices],
  title:
    "Check the newest DR copy, ElastiCache snapshot and validated restore test are recent; record each path's heartbeat",
  describe: (ctx) => [
    {
      kind: "aws",
      action: `backup:ListRecoveryPointsByBackupVault (${ctx.outputs.peerRegion}); elasticache:DescribeSnapshots (${ctx.outputs.region})`,
    },
    ...(ctx.options.publishMetrics
      ? [
          {
            kind: "aws" as const,
            action: `cloudwatch:PutMetricData ${JOB_SUCCESS_METRIC.namespace}/${JOB_SUCCESS_METRIC.metricName} (${ctx.outputs.region}) for each fresh path`,
          },
        ]
      : []),
  ],
  async run(ctx) {
    const aws = ctx.aws.bind(ctx);
    const now = new Date();
    const v = ctx.result(validateRestores);
    const paths: Freshness[] = await Promise.all([
      drCopyFreshness(aws, ctx.outputs, dr(ctx), ctx.options.maxCopyAgeMinutes, now),
      cacheSnapshotFreshness(aws, ctx.outputs, ctx.options.maxSnapshotAgeMinutes, now),
      restoreTestFreshness(
        aws,
        dr(ctx),
        v.planArn ?? undefined,
        v.validations,
        ctx.options.maxRestoreTestAgeMinutes,
        now,
      ),
    ]);
    paths.push({
      path: "ecr-replication",
      fresh: ctx.result(compareServices).imagesReplicated,
      newest: null,
      detail: ctx.result(compareServices).imagesReplicated
        ? `every image prod runs is in ECR ${ctx.outputs.peerRegion}`
        : "images missing in DR (see the table)",
    });
    const fresh = paths.filter((p) => p.fresh && p.applies !== false).map((p) => p.path);
    if (ctx.options.publishMetrics) await recordHeartbeats(ctx, fresh);
    const drift: Drift[] = paths
      .filter((p) => !p.fresh && p.applies !== false && p.path !== "ecr-replication")
      .map((p) => ({ kind: "backup-freshness" as const, what: p.path, prod: "-", dr: p.detail }));
    return { paths, drift, heartbeatsRecorded: ctx.options.publishMetrics ? fresh : [] };
  },
});

/**
 * Records `BackupSucceeded` (Job = the path id) for each fresh path where its heartbeat alarm
 * lives: the restore tests' in the DR region under the dr stack (infra/stacks/dr.ts), the others
 * in the primary region under the primary stack.
 */
async function recordHeartbeats(ctx: Ctx, paths: string[]): Promise<void> {
  const where = (path: string) =>
    path === DR_REGION_PATH
      ? { region: ctx.outputs.peerRegion, stack: ctx.outputs.peerStack }
      : { region: ctx.outputs.region, stack: ctx.outputs.stack };
  for (const region of new Set(paths.map((p) => where(p).region))) {
    const here = paths.filter((p) => where(p).region === region);
    await ctx.aws(CloudWatchClient, region).send(
      new PutMetricDataCommand({
        Namespace: JOB_SUCCESS_METRIC.namespace,
        MetricData: here.map((path) => ({
          MetricName: JOB_SUCCESS_METRIC.metricName,
          Dimensions: [
            { Name: "Job", Value: path },
            { Name: "Stack", Value: where(path).stack },
          ],
          Value: 1,
          Unit: "Count",
        })),
      }),
    );
  }
}

const verdict = step({
  id: "verdict",
  dependsOn: [readDr, compareServices, compareDatabaseStep, checkSwitch, checkFreshness],
  title: "Print every difference; fail when there is one",
  readOnly: true,
  describe: () => [
    { kind: "note", action: "a table of every difference (kind, what, prod, DR); exit non-zero when there is one" },
  ],
  async run(ctx) {
    const drift = [readDr, compareServices, compareDatabaseStep, checkSwitch, checkFreshness].flatMap(
      (s) => (ctx.result(s as typeof readDr) as { drift: Drift[] }).drift,
    );
    for (const line of driftTable(drift).split("\n")) ctx.log.info(line);
    if (drift.length)
      throw new Error(
        `DR is not ready: ${drift.length} difference(s) between what the day needs and what is there (${[...new Set(drift.map((d) => d.kind))].join(", ")}); the table above names each`,
      );
    return { differences: 0 };
  },
});

export const runbook: Runbook<ReadinessOptions> = {
  name: "check-dr-readiness",
  summary:
    "Compare what the DR region would need on the day with what is there (read-only but for restore-test validation results)",
  system: "primary-database",
  options: {
    "publish-metrics": {
      type: "boolean",
      description: "Record each fresh backup path's heartbeat (the scheduled job)",
    },
    "max-copy-age-minutes": {
      type: "string",
      description: `Oldest acceptable newest copy in the DR vault (default ${READINESS_DEFAULTS.maxCopyAgeMinutes})`,
    },
    "max-snapshot-age-minutes": {
      type: "string",
      description: `Oldest acceptable newest ElastiCache automatic snapshot (default ${READINESS_DEFAULTS.maxSnapshotAgeMinutes})`,
    },
    "max-restore-test-age-minutes": {
      type: "string",
      description: `Oldest acceptable newest validated restore test (default ${READINESS_DEFAULTS.maxRestoreTestAgeMinutes})`,
    },
  },
  parseOptions: parseReadinessOptions,
  steps: [readDr, compareServices, compareDatabaseStep, checkSwitch, validateRestores, checkFreshness, verdict],
};

if (isMain(import.meta.url)) await runCli(runbook, { sinks: backupJobSinks });
