/**
 * Checks that the primary database's automated backups replicated into the DR region are
 * recent: their latest restorable time there is within the primary database's RPO (or
 * `--max-lag-minutes`). RDS publishes no metric for automated-backup replication, so this is
 * the path's heartbeat: run on a schedule as the `replication-check` job, a success records
 * `BackupSucceeded`, a lag beyond the limit fails the job (`JobFailed`), and a job that stops
 * running leaves the heartbeat absent. Read-only.
 *
 *   node runbooks/check-backup-replication.ts --stack prod [--max-lag-minutes 15]
 */
import { DescribeDBInstanceAutomatedBackupsCommand, RDSClient } from "@aws-sdk/client-rds";
import { objectiveFor } from "../contract/objectives.ts";
import { backupJobSinks } from "./aws/alert-topic-sinks.ts";
import { BadInputError } from "./lib/errors.ts";
import { isMain, runCli } from "./lib/cli.ts";
import { positiveInt } from "./lib/options.ts";
import { stepFor, type RawOptions, type Runbook } from "./lib/types.ts";

export interface CheckReplicationOptions {
  /** Longest acceptable age of the latest restorable time in the DR region; default the database's RPO. */
  maxLagMinutes: number | undefined;
}

export function parseCheckReplicationOptions(raw: RawOptions): CheckReplicationOptions {
  return {
    maxLagMinutes: raw["max-lag-minutes"] === undefined ? undefined : positiveInt(raw, "max-lag-minutes", 10080),
  };
}

/** The region of an ARN (`arn:aws:rds:<region>:…`), or undefined. */
const regionOf = (arn: string) => arn.split(":")[3] || undefined;

export interface ReplicationVerdict {
  ok: boolean;
  lagMinutes: number | null;
  problem?: string;
}

/** Pure: whether a latest restorable time is recent enough. */
export function judgeReplication(
  latest: Date | undefined,
  now: Date,
  maxLagMinutes: number,
  where: string,
): ReplicationVerdict {
  if (!latest)
    return {
      ok: false,
      lagMinutes: null,
      problem: `the automated backups replicated to ${where} have no restore window yet: nothing can be restored there`,
    };
  const lag = Math.max(0, (now.getTime() - latest.getTime()) / 60_000);
  const rounded = Math.round(lag * 10) / 10;
  if (lag > maxLagMinutes)
    return {
      ok: false,
      lagMinutes: rounded,
      problem: `the latest restorable time in ${where} is ${latest.toISOString()}, ${rounded} min ago: more than the ${maxLagMinutes}-min limit (replication has stopped or fallen behind)`,
    };
  return { ok: true, lagMinutes: rounded };
}

const step = stepFor<CheckReplicationOptions>();

const checkReplicatedBackups = step({
  id: "check-replicated-backups",
  dependsOn: [],
  title: "Check the automated backups replicated to the DR region are within the RPO",
  readOnly: true,
  describe: (ctx) => [
    {
      kind: "aws",
      action: `rds:DescribeDBInstanceAutomatedBackups (${ctx.outputs.peerRegion})`,
      detail: { DBInstanceAutomatedBackupsArn: ctx.outputs.database.replicatedBackupsArn },
    },
  ],
  async run(ctx) {
    const arn = ctx.outputs.database.replicatedBackupsArn;
    if (!arn)
      throw new BadInputError(
        `stack ${ctx.outputs.stack} replicates no automated backups (database.replicatedBackupsArn is null): nothing to check; expected the primary stack with database.replicateBackupsToPeer`,
      );
    const region = regionOf(arn) ?? ctx.outputs.peerRegion;
    const rpo = objectiveFor("primary-database", ctx.outputs.objectives, ctx.outputs.classification).rpoMinutes;
    const limit = ctx.options.maxLagMinutes ?? rpo;
    const res = await ctx
      .aws(RDSClient, region)
      .send(new DescribeDBInstanceAutomatedBackupsCommand({ DBInstanceAutomatedBackupsArn: arn }));
    const backups = res.DBInstanceAutomatedBackups ?? [];
    if (backups.length === 0)
      throw new Error(`no automated backups ${arn} in ${region}: the replication was stopped or deleted`);
    const latest = backups
      .map((b) => b.RestoreWindow?.LatestTime)
      .filter((t): t is Date => t instanceof Date)
      .sort((a, b) => b.getTime() - a.getTime())[0];
    const verdict = judgeReplication(latest, new Date(), limit, region);
    if (!verdict.ok) throw new Error(verdict.problem);
    return {
      automatedBackupsArn: arn,
      region,
      status: backups[0]?.Status ?? null,
      latestRestorableTime: latest!.toISOString(),
      earliestRestorableTime: backups[0]?.RestoreWindow?.EarliestTime?.toISOString() ?? null,
      lagMinutes: verdict.lagMinutes,
      limitMinutes: limit,
    };
  },
});

const steps = [checkReplicatedBackups];

export const runbook: Runbook<CheckReplicationOptions> = {
  name: "check-backup-replication",
  summary: "Check the database's automated backups replicated to the DR region are recent (read-only)",
  system: "primary-database",
  options: {
    "max-lag-minutes": {
      type: "string",
      description: "Longest acceptable age of the latest restorable time in the DR region (default the database's RPO)",
    },
  },
  parseOptions: parseCheckReplicationOptions,
  steps,
};

if (isMain(import.meta.url)) await runCli(runbook, { sinks: backupJobSinks });
