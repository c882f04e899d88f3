import { readFileSync } from "node:fs";
import test from "ava";
import { Ajv } from "ajv";
import { readRawConfig, validateConfig, type StackConfig } from "../../infra/config.ts";
import { postureOf } from "../../infra/posture-stack.ts";
import type { PostureReport } from "../../infra/posture.ts";

const schema = JSON.parse(readFileSync(new URL("../../infra/posture.schema.json", import.meta.url), "utf8"));
const validate = new Ajv({ allErrors: true, strict: true }).compile(schema);
const system = (rep: PostureReport, id: string) => rep.systems.find((s) => s.system === id)!;
const missed = (rep: PostureReport) => rep.systems.filter((s) => s.verdict === "missed").map((s) => s.system);

/** The committed prod config with some keys changed, validated by the config module (objective checks off: the report is what judges them). */
function prodWith(change: (raw: Record<string, any>) => void): StackConfig {
  const raw = readRawConfig("prod") as Record<string, any>;
  change(raw);
  return validateConfig(raw, "prod", { checkObjectives: false });
}
const merge = (raw: Record<string, any>, key: string, value: Record<string, unknown>) => {
  raw[`eventchain-dr:${key}`] = { ...(raw[`eventchain-dr:${key}`] ?? {}), ...value };
};

const CRITICAL_AND_IMPORTANT = ["primary-database", "payments", "authentication", "core-api", "media-storage", "analytics", "notifications", "search"];

for (const stack of ["prod", "dr"]) {
  test(`the committed ${stack} config meets every critical and important tier, read from the declared resources`, async (t) => {
    const rep = await postureOf(stack);
    t.is(rep.stack, stack);
    t.is(rep.region, "us-east-1");
    t.is(rep.peerRegion, "us-west-2");
    for (const id of CRITICAL_AND_IMPORTANT) t.is(system(rep, id).verdict, "met", `${id}: ${[...system(rep, id).inRegion.reasons, ...system(rep, id).regional.reasons].join("; ")}`);
    const ids = rep.mechanisms.map((m) => m.id);
    for (const id of ["rds-pitr", "rds-pitr-replicated", "s3-replication-rtc-media", "ecr-replication", "elasticache-snapshot"]) t.true(ids.includes(id), id);
    t.true(validate(JSON.parse(JSON.stringify(rep))), JSON.stringify(validate.errors));
  });

  // Known gap (reported to the lead): the backup bucket is not replicated to the DR region, so the
  // Redis exports and the cluster-configuration exports have no copy outside us-east-1. When the
  // program replicates redis/ and infrastructure/ (with RTC), this passes and must become `test`.
  test.failing(`the committed ${stack} config meets every tier`, async (t) => {
    const rep = await postureOf(stack);
    t.deepEqual(missed(rep), []);
  });
}

test("a config that drops cross-region replication fails the named systems for a regional disaster", async (t) => {
  const config = prodWith((raw) => {
    merge(raw, "database", { replicateBackupsToPeer: false });
    merge(raw, "backup", { copyToPeer: false });
    raw["eventchain-dr:replication"] = { rules: [] };
  });
  const rep = await postureOf("prod", { config });
  t.is(rep.verdict, "missed");
  for (const id of CRITICAL_AND_IMPORTANT) {
    t.is(system(rep, id).regional.verdict, "missed", id);
    t.is(system(rep, id).regional.rpoMinutes, null, id);
    t.is(system(rep, id).inRegion.verdict, "met", id);
  }
  t.true(system(rep, "payments").regional.reasons.includes("no mechanism copies database out of us-east-1: no regional RPO"));
  t.deepEqual(system(rep, "media-storage").regional.reasons, ["no mechanism copies media out of us-east-1: no regional RPO"]);
  t.is(system(rep, "code-and-images").verdict, "met");
});

test("a config that lengthens the snapshot interval with PITR off fails the critical database by its snapshot interval", async (t) => {
  const config = prodWith((raw) => {
    merge(raw, "database", { pointInTimeRecovery: false });
    merge(raw, "schedules", { databaseBackup: "cron(0 */12 * * ? *)" });
  });
  // The program keeps RDS automated backups (which are PITR) whatever pointInTimeRecovery says;
  // PITR is off only when the instance keeps no automated backups, so that is what we declare here.
  const rep = await postureOf("prod", {
    config,
    mapResources: (rs) => rs.map((r) => (r.type === "aws:rds/instance:Instance" ? { ...r, inputs: { ...r.inputs, backupRetentionPeriod: 0 } } : r)),
  });
  const db = system(rep, "primary-database");
  t.is(db.inRegion.verdict, "missed");
  t.is(db.inRegion.rpoMinutes, 780);
  t.deepEqual(db.inRegion.reasons, [
    "database: worst-case RPO 13 h (AWS Backup rule database-snapshots (cron(0 */12 * * ? *): every 720 min, start window 60 min), snapshot restore) exceeds the 15 min objective",
  ]);
  t.is(db.regional.rpoMinutes, 840);
  for (const id of ["payments", "authentication", "core-api"]) t.is(system(rep, id).verdict, "missed", id);
  t.is(system(rep, "media-storage").verdict, "met");
});

test("removing RTC from the media replication leaves its regional RPO unbounded", async (t) => {
  // rtcMinutes is fixed at 15 by the config schema, so RTC can only be removed from the resource.
  const rep = await postureOf("prod", {
    mapResources: (rs) =>
      rs.map((r) =>
        r.type === "aws:s3/bucketReplicationConfig:BucketReplicationConfig"
          ? { ...r, inputs: { ...r.inputs, rules: r.inputs.rules.map((rule: any) => ({ ...rule, destination: { ...rule.destination, replicationTime: undefined } })) } }
          : r,
      ),
  });
  const media = system(rep, "media-storage");
  t.is(media.regional.verdict, "missed");
  t.is(media.regional.rpoMinutes, null);
  t.deepEqual(media.regional.reasons, ["media: S3 replication of media/ to us-west-2 without Replication Time Control (no bound) gives no bound on data loss"]);
  t.is(system(rep, "primary-database").verdict, "met");
});
