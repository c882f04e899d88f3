/**
 * lift-fence against moto: the one deliberate way to lift the fence a runbook set on the old
 * primary (a `pulumi up` keeps it, contract/fence-record.ts). It refuses while the failover switch may send
 * writes to DR, refuses a fence other than the one named, and once lifted leaves the instance as
 * the prod stack declares it (own security groups, no record), so the program declares no change.
 */
import test, { type ExecutionContext } from "ava";
import { DescribeDBInstancesCommand, ModifyDBInstanceCommand, RDSClient, type DBInstance } from "@aws-sdk/client-rds";
import { CloudWatchClient, SetAlarmStateCommand } from "@aws-sdk/client-cloudwatch";
import { declaredFence, FENCE_TAG } from "../../contract/fence-record.ts";
import { liveOf } from "../../runbooks/aws/fencing.ts";
import { runbook as failover } from "../../runbooks/region-failover.ts";
import { runbook as failback } from "../../runbooks/failback.ts";
import { runbook } from "../../runbooks/lift-fence.ts";
import { EXIT } from "../../runbooks/lib/errors.ts";
import { PRIMARY_REGION, SOURCE_DB } from "../../rehearsal/stand-ins/aws-seed.ts";
import { awsFor } from "../helpers/moto.ts";
import { useFailoverMoto } from "../helpers/failover.ts";
import { runRunbook, workspace } from "../helpers/run-runbook.ts";
import { fixture } from "../helpers/fault-proxy.ts";

const { moto, seeded, proxy, state } = useFailoverMoto(test);
const c = (region = PRIMARY_REGION) => ({ region, endpoint: moto().endpoint, maxAttempts: 1 });

const endpointFailing = (r: { service: string; action: string }) =>
  r.service === "route53" && r.action.includes("/status")
    ? { status: 200, body: fixture("route53-get-health-check-status-failing.xml") }
    : undefined;

const oldPrimary = async (): Promise<DBInstance> =>
  (await new RDSClient(c()).send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: SOURCE_DB }))).DBInstances![0]!;

/** What the prod stack's program declares for the old primary as it is now: undefined = its own groups, no tags. */
const programDeclares = async () =>
  declaredFence("prod", liveOf(SOURCE_DB, await oldPrimary()), seeded().prod.failover.fenceSecurityGroupIds);

/** The stacks as seeded, then a region-failover (run fo1) that fenced the old primary. */
async function failedOver(t: ExecutionContext) {
  const ws = workspace(t);
  const base = ["--outputs", ws.writeOutputs(seeded().file), "--stack", "prod", "--state-dir", ws.stateDir];
  const p = await proxy(t, endpointFailing);
  const fo = await runRunbook(failover, [...base, "--yes", "--run-id", "fo1", "--health-attempts", "1"], {
    aws: awsFor(p.endpoint),
  });
  t.is(fo.exitCode, EXIT.succeeded, fo.stdout);
  t.is(liveOf(SOURCE_DB, await oldPrimary()).tags[FENCE_TAG.by], "fo1");
  p.setRule(() => undefined);
  return { ws, base, p };
}

test.serial("refuses while the failover switch is engaged, changing nothing", async (t) => {
  const { base, p } = await failedOver(t);
  const before = await state();
  const res = await runRunbook(runbook, [...base, "--fence", "fo1", "--yes"], { aws: awsFor(p.endpoint) });
  t.is(res.exitCode, EXIT.badInput, res.stdout);
  t.true(
    res.stdout.includes(
      `the failover switch is engaged (alarm ${seeded().prod.failover.switch.alarmName} in us-west-2): ` +
        `clients may be on us-west-2, writing there; lifting the fence on eventchain-prod-db now lets writes ` +
        `reach it too (split brain). Fail back first (npx zx runbooks/failback.ts --stack prod ` +
        `--writes-stopped), or pass --force once you have made sure nothing writes to us-west-2`,
    ),
    res.stdout,
  );
  t.deepEqual(await state(), before);
  t.truthy(await programDeclares(), "still fenced as far as a pulumi up is concerned");
});

test.serial(
  "after failback: another fence is refused; the one named is lifted and a pulumi up then declares no change",
  async (t) => {
    const { ws, base, p } = await failedOver(t);
    const fb = await runRunbook(failback, [...base, "--writes-stopped", "--yes", "--health-attempts", "1"], {
      aws: awsFor(p.endpoint),
    });
    t.is(fb.exitCode, EXIT.succeeded, fb.stdout);
    t.truthy(await programDeclares(), "failback leaves the old primary fenced");

    const before = await state();
    const wrong = await runRunbook(runbook, [...base, "--fence", "fp9", "--yes"], { aws: awsFor(p.endpoint) });
    t.is(wrong.exitCode, EXIT.badInput, wrong.stdout);
    const at = liveOf(SOURCE_DB, await oldPrimary()).tags[FENCE_TAG.at]!;
    t.true(
      wrong.stdout.includes(
        `eventchain-prod-db is fenced by fo1 (since ${at}), not fp9: --fence must name the fence you mean to lift (tag eventchain:fenced-by): npx zx runbooks/lift-fence.ts --stack prod --fence fo1`,
      ),
      wrong.stdout,
    );
    t.deepEqual(await state(), before);

    const res = await runRunbook(runbook, [...base, "--fence", "fo1", "--yes", "--run-id", "lf1"], {
      aws: awsFor(p.endpoint),
    });
    t.is(res.exitCode, EXIT.succeeded, res.stdout + res.stderr);
    const db = liveOf(SOURCE_DB, await oldPrimary());
    t.deepEqual(db.securityGroupIds, seeded().prod.database.securityGroupIds);
    t.false(FENCE_TAG.by in db.tags);
    t.false(FENCE_TAG.at in db.tags);
    t.is(await programDeclares(), undefined, "the program declares the instance's own groups: what it has now");
    t.like(ws.journal("lf1").steps["lift-fence"]!.outputs, {
      securityGroups: seeded().prod.database.securityGroupIds,
      previousSecurityGroups: seeded().prod.failover.fenceSecurityGroupIds,
      result: `fence fo1 lifted: security groups ${seeded().prod.database.securityGroupIds.join(", ")}, fence record removed`,
    });
    t.like(ws.journal("lf1").steps["check-fence"]!.outputs, { fence: "fo1", switchPosition: "disengaged" });
    t.regex(res.stdout, /eventchain-prod-db is no longer fenced: .* a 'pulumi up' of prod declares exactly that/);

    // Lifted: a second run finds nothing to do.
    const again = await runRunbook(runbook, [...base, "--fence", "fo1", "--yes", "--run-id", "lf2"], {
      aws: awsFor(p.endpoint),
    });
    t.is(again.exitCode, EXIT.succeeded, again.stdout);
    t.is(ws.journal("lf2").steps["lift-fence"]!.status, "skipped");
  },
);

test.serial("--force lifts the fence while the switch is engaged, and says so", async (t) => {
  const { base, p } = await failedOver(t);
  const res = await runRunbook(runbook, [...base, "--fence", "fo1", "--yes", "--force"], {
    aws: awsFor(p.endpoint),
  });
  t.is(res.exitCode, EXIT.succeeded, res.stdout);
  t.regex(res.stderr, /lifting the fence although the failover switch is engaged .*, because of --force/);
  t.deepEqual(liveOf(SOURCE_DB, await oldPrimary()).securityGroupIds, seeded().prod.database.securityGroupIds);
  t.is(await programDeclares(), undefined);
});

test.serial("an unrecorded fence is lifted as --fence unrecorded, and only so", async (t) => {
  const ws = workspace(t);
  const base = ["--outputs", ws.writeOutputs(seeded().file), "--stack", "prod", "--state-dir", ws.stateDir];
  const sw = seeded().prod.failover.switch;
  await new CloudWatchClient(c(sw.region)).send(
    new SetAlarmStateCommand({ AlarmName: sw.alarmName, StateValue: "OK", StateReason: "test: disengaged" }),
  );
  await new RDSClient(c()).send(
    new ModifyDBInstanceCommand({
      DBInstanceIdentifier: SOURCE_DB,
      VpcSecurityGroupIds: seeded().prod.failover.fenceSecurityGroupIds,
      ApplyImmediately: true,
    }),
  );
  t.like(await programDeclares(), { tags: undefined }, "kept fenced by the program without a record");
  const named = await runRunbook(runbook, [...base, "--fence", "fo1", "--yes"], { aws: awsFor(moto().endpoint) });
  t.is(named.exitCode, EXIT.badInput);
  t.true(
    named.stdout.includes(
      `eventchain-prod-db is on the fence security group ` +
        `${seeded().prod.failover.fenceSecurityGroupIds.join(", ")} without a fence record, not fenced by ` +
        `fo1: to lift it, npx zx runbooks/lift-fence.ts --stack prod --fence unrecorded`,
    ),
    named.stdout,
  );
  const res = await runRunbook(runbook, [...base, "--fence", "unrecorded", "--yes"], { aws: awsFor(moto().endpoint) });
  t.is(res.exitCode, EXIT.succeeded, res.stdout);
  t.deepEqual(liveOf(SOURCE_DB, await oldPrimary()).securityGroupIds, seeded().prod.database.securityGroupIds);
  t.is(await programDeclares(), undefined);
});

test.serial("an instance that is not fenced: nothing to lift, nothing changed", async (t) => {
  const ws = workspace(t);
  const base = ["--outputs", ws.writeOutputs(seeded().file), "--stack", "prod", "--state-dir", ws.stateDir];
  const before = await state();
  const res = await runRunbook(runbook, [...base, "--fence", "fo1", "--yes", "--run-id", "lf3"], {
    aws: awsFor(moto().endpoint),
  });
  t.is(res.exitCode, EXIT.succeeded, res.stdout);
  t.is(ws.journal("lf3").steps["lift-fence"]!.status, "skipped");
  t.deepEqual(await state(), before);
});

test.serial(
  "dry run lists the calls and changes nothing; without --yes and a terminal it stops before lifting",
  async (t) => {
    const { ws, base, p } = await failedOver(t);
    const before = await state();
    const dry = await runRunbook(runbook, [...base, "--fence", "fo1", "--dry-run", "--force"], {
      aws: awsFor(p.endpoint),
    });
    t.is(dry.exitCode, EXIT.succeeded, dry.stdout);
    for (const call of [
      "rds:DescribeDBInstances (us-east-1, bounded)",
      "cloudwatch:DescribeAlarms (us-west-2)",
      "rds:ModifyDBInstance (us-east-1, bounded)",
      "rds:RemoveTagsFromResource (us-east-1, bounded)",
    ])
      t.true(dry.stderr.includes(call), call);
    t.deepEqual(await state(), before);
    const stopped = await runRunbook(runbook, [...base, "--fence", "fo1", "--force", "--run-id", "lf4"], {
      aws: awsFor(p.endpoint),
    });
    t.is(stopped.exitCode, EXIT.stopped, stopped.stdout);
    t.false("lift-fence" in ws.journal("lf4").steps);
    t.deepEqual(await state(), before);
  },
);

test.serial("--fence is required; --stack dr is refused", async (t) => {
  const ws = workspace(t);
  const outputs = ws.writeOutputs(seeded().file);
  const missing = await runRunbook(runbook, ["--outputs", outputs, "--stack", "prod", "--state-dir", ws.stateDir], {
    aws: awsFor(moto().endpoint),
  });
  t.is(missing.exitCode, EXIT.badInput);
  t.regex(
    missing.stdout + missing.stderr,
    /missing --fence: expected the run id in the instance's tag eventchain:fenced-by \(or "unrecorded"\)/,
  );
  const dr = await runRunbook(
    runbook,
    ["--outputs", outputs, "--stack", "dr", "--state-dir", ws.stateDir, "--fence", "fo1", "--yes"],
    { aws: awsFor(moto().endpoint) },
  );
  t.is(dr.exitCode, EXIT.badInput);
  t.regex(
    dr.stdout,
    /lift-fence lifts the fence on the primary stack's database: --stack must have role "primary", got "dr"/,
  );
});
