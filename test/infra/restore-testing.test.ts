/**
 * Under Pulumi mocks: the restore tests run in the DR region over the DR vault (the copies
 * region-failover restores from), land in the DR restore landing's subnets, and have a heartbeat
 * in the DR region fed by check-dr-readiness's validation; prod declares no restore testing.
 */
import test from "ava";
import { DR_READINESS_SCHEDULE } from "../../infra/components/backup-jobs.ts";
import { restoreTestingPlanName } from "../../infra/components/backup-plan.ts";
import { heartbeatPeriodSeconds } from "../../infra/components/heartbeats.ts";
import { committedStacks, evaluateWith, ofType, only } from "../helpers/pulumi-mocks.ts";

test("the dr stack declares a weekly restore testing plan over the DR vault's recovery points", async (t) => {
  const { dr } = await committedStacks();
  const plan = only(dr, "aws:backup/restoreTestingPlan:RestoreTestingPlan").inputs;
  t.is(plan.name, restoreTestingPlanName("dr"));
  t.is(plan.scheduleExpression, "cron(0 6 ? * MON *)");
  t.deepEqual(plan.recoveryPointSelection, {
    algorithm: "LATEST_WITHIN_WINDOW",
    includeVaults: [dr.outputs.backup.vaultArn],
    recoveryPointTypes: ["SNAPSHOT"],
    selectionWindowDays: 7,
  });
  const selection = only(dr, "aws:backup/restoreTestingSelection:RestoreTestingSelection").inputs;
  t.like(selection, { protectedResourceType: "RDS", restoreTestingPlanName: plan.name, validationWindowHours: 2 });
  t.deepEqual(selection.protectedResourceArns, ["*"], "every RDS resource with copies in the DR vault");
  t.is(selection.restoreMetadataOverrides.dbsubnetgroupname, dr.outputs.database.subnetGroupName);
});

test("prod declares no restore testing of its own vault: the copies that matter are DR's", async (t) => {
  const { prod } = await committedStacks();
  t.is(ofType(prod, "aws:backup/restoreTestingPlan:RestoreTestingPlan").length, 0);
});

test("the restore tests' heartbeat lives in the DR region, on the metric check-dr-readiness records there", async (t) => {
  const { dr } = await committedStacks();
  const alarm = ofType(dr, "aws:cloudwatch/metricAlarm:MetricAlarm").find(
    (a) => a.inputs.tags?.["eventchain:backup-path"] === "restore-tests",
  );
  t.truthy(alarm, "a heartbeat on restore testing");
  t.like(alarm!.inputs, {
    region: "us-west-2",
    namespace: "EventChain/Backups",
    metricName: "BackupSucceeded",
    dimensions: { Job: "restore-tests", Stack: "dr" },
    treatMissingData: "breaching",
    period: heartbeatPeriodSeconds([DR_READINESS_SCHEDULE]),
  });
  t.deepEqual(alarm!.inputs.alarmActions, [dr.outputs.alerts.topicArn]);
});

test("with restore testing off, the dr stack declares neither the plan nor its heartbeat", async (t) => {
  const off = await evaluateWith("dr", { "eventchain-dr:backup": { restoreTesting: false } });
  t.is(ofType(off, "aws:backup/restoreTestingPlan:RestoreTestingPlan").length, 0);
  t.false(
    ofType(off, "aws:cloudwatch/metricAlarm:MetricAlarm").some(
      (a) => a.inputs.tags?.["eventchain:backup-path"] === "restore-tests",
    ),
  );
});
