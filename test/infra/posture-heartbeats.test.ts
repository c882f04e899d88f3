import { readFileSync } from "node:fs";
import test from "ava";
import { Ajv } from "ajv";
import { postureOf } from "../../infra/posture/stack.ts";
import { renderJson, renderMarkdown, renderTable } from "../../infra/posture/render.ts";

const schema = JSON.parse(readFileSync(new URL("../../infra/posture/posture.schema.json", import.meta.url), "utf8"));
const validate = new Ajv({ allErrors: true, strict: true }).compile(schema);

test.serial(
  "the posture report lists each backup path with the heartbeat alarm that pages when it stops",
  async (t) => {
    const report = await postureOf("prod");
    t.deepEqual(Object.fromEntries((report.backupPaths ?? []).map((p) => [p.id, p.heartbeat?.name])), {
      "aws-backup-jobs": "eventchain-prod-aws-backup-jobs-heartbeat",
      "aws-backup-dr-copies": "eventchain-prod-aws-backup-dr-copies-heartbeat",
      "rds-backup-replication": "eventchain-prod-rds-backup-replication-heartbeat",
      "database-dump": "eventchain-prod-database-dump-heartbeat",
      "redis-export": "eventchain-prod-redis-export-heartbeat",
      "infrastructure-export": "eventchain-prod-infrastructure-export-heartbeat",
      "code-bundle": "eventchain-prod-code-bundle-heartbeat",
      "dr-readiness": "eventchain-prod-dr-readiness-heartbeat",
      "elasticache-snapshots": "eventchain-prod-elasticache-snapshots-heartbeat",
      "ecr-replication": "eventchain-prod-ecr-replication-heartbeat",
    });
    for (const p of report.backupPaths!) {
      t.true(p.heartbeat!.missingDataBreaches, p.id);
      t.deepEqual(p.problems, [], p.id);
    }
    t.true(validate(JSON.parse(renderJson(report))), JSON.stringify(validate.errors));
    t.regex(
      renderTable(report),
      /database-dump: heartbeat eventchain-prod-database-dump-heartbeat \(no success within 2160 min, missing data breaching\)/,
    );
    t.regex(renderMarkdown(report), /- code-bundle: heartbeat eventchain-prod-code-bundle-heartbeat/);
  },
);

test.serial("a backup path without a heartbeat stands out in the report", async (t) => {
  const report = await postureOf("prod", {
    mapResources: (rs) => rs.filter((r) => r.name !== "heartbeats-redis-export"),
  });
  const redis = report.backupPaths!.find((p) => p.id === "redis-export")!;
  t.is(redis.heartbeat, null);
  t.regex(
    renderTable(report),
    /redis-export: NO HEARTBEAT — backup path redis-export \(kubernetes:batch\/v1:CronJob kubernetes-jobs-redis-export\) has no heartbeat alarm/,
  );
  t.true(validate(JSON.parse(renderJson(report))), JSON.stringify(validate.errors));
});
