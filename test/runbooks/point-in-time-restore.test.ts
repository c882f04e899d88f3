import test from "ava";
import { DescribeDBInstancesCommand, DescribeDBSnapshotsCommand, RDSClient } from "@aws-sdk/client-rds";
import { runbook } from "../../runbooks/point-in-time-restore.ts";
import { EXIT } from "../../runbooks/lib/errors.ts";
import { awsFor, useSeededMoto } from "../helpers/moto.ts";
import { PRIMARY_REGION, SOURCE_DB } from "../../rehearsal/stand-ins/aws-seed.ts";
import { runRunbook, workspace } from "../helpers/run-runbook.ts";

const { moto, seeded, state } = useSeededMoto(test);

const rds = () => new RDSClient({ region: PRIMARY_REGION, endpoint: moto().endpoint, maxAttempts: 1 });
const describe = async (id: string) =>
  (await rds().send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: id }))).DBInstances![0]!;

function setup(t: Parameters<typeof workspace>[0]) {
  const ws = workspace(t);
  const file = ws.writeOutputs(seeded().file);
  return { ws, base: ["--outputs", file, "--stack", "prod", "--state-dir", ws.stateDir] };
}

test.serial("restores to a new instance with the source's settings, snapshots it and reports", async (t) => {
  const { ws, base } = setup(t);
  const source = await describe(SOURCE_DB);
  const time = new Date(source.LatestRestorableTime!.getTime() - 1).toISOString();
  const res = await runRunbook(runbook, [...base, "--time", time, "--run-id", "pitr1"], {
    aws: awsFor(moto().endpoint),
  });
  t.is(res.exitCode, EXIT.succeeded, res.stdout + res.stderr);
  const targetId = ws.journal("pitr1").steps["check-window"]!.outputs!.targetId as string;
  t.regex(targetId, /^eventchain-prod-db-pitr-\d{14}$/);
  const restored = await describe(targetId);
  t.is(restored.DBInstanceClass, source.DBInstanceClass);
  t.is(restored.DBSubnetGroup?.DBSubnetGroupName, seeded().prod.database.subnetGroupName);
  t.deepEqual(
    restored.VpcSecurityGroups?.map((g) => g.VpcSecurityGroupId),
    seeded().prod.database.securityGroupIds,
  );
  t.is(restored.DBParameterGroups?.[0]?.DBParameterGroupName, seeded().prod.database.parameterGroupName);
  t.false(restored.PubliclyAccessible);
  t.true(restored.DeletionProtection);
  const snaps = await rds().send(
    new DescribeDBSnapshotsCommand({ DBInstanceIdentifier: targetId, SnapshotType: "manual" }),
  );
  t.deepEqual(
    snaps.DBSnapshots?.map((s) => s.DBSnapshotIdentifier),
    [`${targetId}-recovered`],
  );
  t.is((await describe(SOURCE_DB)).DBInstanceStatus, "available", "the source is untouched");
  t.is(res.report?.verdict, "objectives_met");
  t.is(res.report?.rpo.recoveryPointAt, time);
  t.deepEqual(
    res.report?.steps.map((s) => s.status),
    ["succeeded", "succeeded", "succeeded", "succeeded", "succeeded"],
  );
  t.regex(res.stdout, /Check the data on eventchain-prod-db-pitr-/);
});

test.serial("a time outside the restorable window fails clearly before any change", async (t) => {
  const { base } = setup(t);
  const before = await state();
  const res = await runRunbook(runbook, [...base, "--time", "2025-01-01T00:00:00Z", "--yes"], {
    aws: awsFor(moto().endpoint),
  });
  t.is(res.exitCode, EXIT.badInput);
  t.regex(
    res.stdout,
    /restore time 2025-01-01T00:00:00\.000Z is outside the restorable window of eventchain-prod-db: expected a time between .* \(earliest\) and .* \(latest\)/,
  );
  t.deepEqual(await state(), before);
});

test.serial("a time in the future is outside the window too", async (t) => {
  const { base } = setup(t);
  const res = await runRunbook(runbook, [...base, "--time", new Date(Date.now() + 3600_000).toISOString()], {
    aws: awsFor(moto().endpoint),
  });
  t.is(res.exitCode, EXIT.badInput);
  t.regex(res.stdout, /outside the restorable window/);
});

test.serial("dry run prints the restore call and changes nothing", async (t) => {
  const { ws, base } = setup(t);
  const before = await state();
  const res = await runRunbook(runbook, [...base, "--time", "latest", "--dry-run"], { aws: awsFor(moto().endpoint) });
  t.is(res.exitCode, EXIT.succeeded, res.stdout);
  t.regex(
    res.stderr,
    /rds:RestoreDBInstanceToPointInTime \(us-east-1\) .*"TargetDBInstanceIdentifier":"eventchain-prod-db-pitr-\d{14}"/,
  );
  t.regex(res.stderr, /rds:CreateDBSnapshot/);
  t.deepEqual(await state(), before);
  t.deepEqual(ws.runIds(), []);
});

test.serial("re-running a finished restore changes nothing", async (t) => {
  const { ws, base } = setup(t);
  const source = await describe(SOURCE_DB);
  const time = source.LatestRestorableTime!.toISOString();
  const first = await runRunbook(runbook, [...base, "--time", time, "--run-id", "pitr2"], {
    aws: awsFor(moto().endpoint),
  });
  t.is(first.exitCode, EXIT.succeeded, first.stdout);
  const after = await state();
  const resumed = await runRunbook(runbook, [...base, "--resume", "pitr2"], { aws: awsFor(moto().endpoint) });
  t.is(resumed.exitCode, EXIT.succeeded);
  const fresh = await runRunbook(runbook, [...base, "--time", time, "--run-id", "pitr3"], {
    aws: awsFor(moto().endpoint),
  });
  t.is(fresh.exitCode, EXIT.succeeded, fresh.stdout);
  t.is(ws.journal("pitr3").steps.restore?.status, "skipped");
  t.is(ws.journal("pitr3").steps.snapshot?.status, "skipped");
  t.deepEqual(await state(), after);
});

test.serial("bad options are refused with what is allowed", async (t) => {
  const { base } = setup(t);
  const cases: [string[], RegExp][] = [
    [["--time", "latest", "--engine", "oracle"], /unknown --engine "oracle": expected one of rds/],
    [[], /missing --time/],
    [["--time", "14:30"], /invalid --time "14:30": expected an ISO 8601 time with a zone/],
    [["--time", "latest", "--target-id", "9bad--id"], /invalid --target-id "9bad--id"/],
    [
      ["--time", "latest", "--max-wait-minutes=-1"],
      /invalid --max-wait-minutes "-1": expected a number greater than 0/,
    ],
    [["--time", "latest", "--stack", "staging"], /unknown stack "staging": --outputs file ".*" holds prod, dr/],
  ];
  const before = await state();
  for (const [args, message] of cases) {
    const res = await runRunbook(runbook, [...base, ...args], { aws: awsFor(moto().endpoint) });
    t.is(res.exitCode, EXIT.badInput, args.join(" "));
    t.regex(res.stdout, message);
  }
  t.deepEqual(await state(), before);
});
