import test from "ava";
import { committedStacks, evaluateWith, ofType, only } from "../helpers/pulumi-mocks.ts";

const RDS = "aws:rds/instance:Instance";

test("the primary database keeps 30 days of automated backups in the configured windows", async (t) => {
  const { prod } = await committedStacks();
  const db = only(prod, RDS).inputs;
  t.is(db.identifier, "eventchain-prod-db");
  t.is(db.engine, "postgres");
  t.is(db.backupRetentionPeriod, 30);
  t.is(db.backupWindow, "03:00-04:00");
  t.is(db.maintenanceWindow, "sun:05:00-sun:06:00");
  t.true(db.copyTagsToSnapshot);
});

test("the primary database survives deletion: protection, final snapshot, automated backups kept", async (t) => {
  const { prod } = await committedStacks();
  const db = only(prod, RDS).inputs;
  t.true(db.deletionProtection);
  t.false(db.skipFinalSnapshot);
  t.false(db.deleteAutomatedBackups);
  t.regex(db.finalSnapshotIdentifier, /^eventchain-prod-db-final-\d{14}$/);
});

test("the primary database is encrypted with its own customer key and keeps no password in code", async (t) => {
  const { prod } = await committedStacks();
  const db = only(prod, RDS).inputs;
  t.true(db.storageEncrypted);
  t.is(db.kmsKeyId, prod.outputs.database.kmsKeyArn);
  t.regex(db.kmsKeyId, /^arn:aws:kms:us-east-1:/);
  t.true(db.manageMasterUserPassword);
  t.is(db.password, undefined);
  t.false(db.publiclyAccessible);
  const params = only(prod, "aws:rds/parameterGroup:ParameterGroup").inputs;
  t.is(params.family, "postgres15");
  t.deepEqual(
    params.parameters.find((p: { name: string }) => p.name === "rds.force_ssl"),
    { name: "rds.force_ssl", value: "1" },
  );
});

test("automated backups are replicated into the DR region under the DR key for 30 days", async (t) => {
  const { prod, dr } = await committedStacks();
  const replication = only(prod, "aws:rds/instanceAutomatedBackupsReplication:InstanceAutomatedBackupsReplication");
  t.is(replication.region, "us-west-2");
  t.is(replication.inputs.sourceDbInstanceArn, prod.outputs.database.instanceArn);
  t.is(replication.inputs.kmsKeyId, dr.outputs.database.kmsKeyArn);
  t.regex(replication.inputs.kmsKeyId, /^arn:aws:kms:us-west-2:/);
  t.is(replication.inputs.retentionPeriod, 30);
  t.is(prod.outputs.database.replicatedBackupsArn, replication.id ?? "missing id");
  t.regex(prod.outputs.database.replicatedBackupsArn ?? "", /^arn:aws:rds:us-west-2:\d+:auto-backup:/);
});

test("the DR stack declares where a restore lands but no database instance", async (t) => {
  const { dr } = await committedStacks();
  t.is(dr.resources.filter((r) => r.type === RDS).length, 0);
  t.is(dr.outputs.database.instanceIdentifier, "eventchain-dr-db");
  t.is(dr.outputs.database.instanceArn, null);
  t.is(dr.outputs.database.address, null);
  only(dr, "aws:rds/subnetGroup:SubnetGroup");
  t.is(only(dr, "aws:rds/parameterGroup:ParameterGroup").inputs.family, "postgres15");
  t.is(dr.outputs.database.backupRetentionDays, 30);
  t.true(dr.outputs.database.pointInTimeRecovery);
});

test("the application's connection secret carries no password", async (t) => {
  const { prod } = await committedStacks();
  const value = JSON.parse(only(prod, "aws:secretsmanager/secretVersion:SecretVersion").inputs.secretString);
  t.deepEqual(Object.keys(value).sort(), ["dbname", "host", "port", "sslmode"]);
  t.is(value.host, prod.outputs.database.address);
});

test("the connection settings are stored as a secret", async (t) => {
  const { prod } = await committedStacks();
  t.deepEqual(only(prod, "aws:secretsmanager/secretVersion:SecretVersion").secretInputs, ["secretString"]);
});

test("with point-in-time recovery off, RDS keeps no automated backups and nothing replicates", async (t) => {
  const evaluation = await evaluateWith(
    "prod",
    { "eventchain-dr:database": { pointInTimeRecovery: false } },
    { checkObjectives: false },
  );
  t.is(only(evaluation, "aws:rds/instance:Instance").inputs.backupRetentionPeriod, 0);
  t.is(ofType(evaluation, "aws:rds/instanceAutomatedBackupsReplication:InstanceAutomatedBackupsReplication").length, 0);
  t.is(evaluation.outputs.database.replicatedBackupsArn, null);
  t.false(evaluation.outputs.database.pointInTimeRecovery);
  t.is(evaluation.outputs.database.backupRetentionDays, 0);
  t.is(only(evaluation, "aws:backup/plan:Plan").inputs.rules[0].schedule, "cron(0 */6 * * ? *)");
});
