import { readFileSync } from "node:fs";
import test from "ava";
import { Ajv } from "ajv";
import { readRawConfig, validateConfig, type StackConfig } from "../../infra/config/load.ts";
import { postureOf } from "../../infra/posture/stack.ts";
import type { PostureReport } from "../../infra/posture/model.ts";

const schema = JSON.parse(readFileSync(new URL("../../infra/posture/posture.schema.json", import.meta.url), "utf8"));
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

const CRITICAL_AND_IMPORTANT = [
  "primary-database",
  "payments",
  "authentication",
  "core-api",
  "media-storage",
  "analytics",
  "notifications",
  "search",
];

for (const stack of ["prod", "dr"]) {
  test(`the committed ${stack} config meets every tier, with mechanisms read from the declared resources`, async (t) => {
    const rep = await postureOf(stack);
    t.is(rep.stack, stack);
    t.is(rep.region, "us-east-1");
    t.is(rep.peerRegion, "us-west-2");
    const why = rep.systems.flatMap((s) =>
      [...s.inRegion.reasons, ...s.regional.reasons].map((r) => `${s.system}: ${r}`),
    );
    t.deepEqual(missed(rep), [], why.join("\n"));
    t.is(rep.verdict, "met");
    const ids = rep.mechanisms.map((m) => m.id);
    for (const id of [
      "rds-pitr",
      "rds-pitr-replicated",
      "s3-replication-rtc-media",
      "ecr-replication",
      "elasticache-snapshot",
    ])
      t.true(ids.includes(id), id);
    t.true(validate(JSON.parse(JSON.stringify(rep))), JSON.stringify(validate.errors));
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
  t.true(
    system(rep, "payments").regional.reasons.includes("no mechanism copies database out of us-east-1: no regional RPO"),
  );
  t.deepEqual(system(rep, "media-storage").regional.reasons, [
    "no mechanism copies media out of us-east-1: no regional RPO",
  ]);
  t.is(system(rep, "code-and-images").verdict, "met");
});

test("a config that lengthens the snapshot interval with PITR off fails the critical database by its snapshot interval", async (t) => {
  const config = prodWith((raw) => {
    merge(raw, "database", { pointInTimeRecovery: false });
    merge(raw, "schedules", { databaseBackup: "cron(0 */12 * * ? *)" });
  });
  const rep = await postureOf("prod", { config });
  t.false(
    rep.mechanisms.some((m) => m.id.startsWith("rds-pitr")),
    "PITR off declares no automated backups",
  );
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

test("a config that removes RTC from the media replication leaves its regional RPO unbounded", async (t) => {
  const config = prodWith((raw) => {
    raw["eventchain-dr:replication"] = {
      rules: [{ id: "EventChainMediaReplication", prefix: "media/", rtcMinutes: null }],
    };
  });
  const rep = await postureOf("prod", { config });
  const media = system(rep, "media-storage");
  t.is(media.regional.verdict, "missed");
  t.is(media.regional.rpoMinutes, null);
  t.deepEqual(media.regional.reasons, [
    "media: S3 replication of media/ to us-west-2 without Replication Time Control (no bound) gives no bound on data loss",
  ]);
  t.is(media.inRegion.verdict, "met");
  t.is(system(rep, "primary-database").verdict, "met");
});

test("the declared resources, not the config, decide: RTC removed from the resource alone is seen", async (t) => {
  const rep = await postureOf("prod", {
    mapResources: (rs) =>
      rs.map((r) =>
        r.type === "aws:s3/bucketReplicationConfig:BucketReplicationConfig"
          ? {
              ...r,
              inputs: {
                ...r.inputs,
                rules: r.inputs.rules.map((rule: any) => ({
                  ...rule,
                  destination: { ...rule.destination, replicationTime: undefined },
                })),
              },
            }
          : r,
      ),
  });
  t.deepEqual(missed(rep), ["media-storage", "cache", "dev-staging", "docs-internal-tools"]);
});
