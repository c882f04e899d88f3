import test from "ava";
import fc from "fast-check";
import { formatMinutes, type PostureReport } from "../../infra/posture/model.ts";
import { rdsRestoreMinutes } from "../../infra/posture/mechanisms.ts";
import { declaredPair, postureOf, without } from "../helpers/posture-fixtures.ts";

const report = postureOf;
const system = (rep: PostureReport, id: string) => rep.systems.find((s) => s.system === id)!;

test("a fully declared pair meets every tier", (t) => {
  const rep = report(declaredPair());
  t.deepEqual(
    rep.systems.filter((s) => s.verdict !== "met").map((s) => [s.system, s.inRegion.reasons, s.regional.reasons]),
    [],
  );
  t.is(rep.verdict, "met");
  t.is(rep.systems.length, 13);
});

test("the database's worst-case RPO is the 5-minute log upload in region and 10 minutes in DR", (t) => {
  const db = system(report(declaredPair()), "primary-database");
  t.is(db.inRegion.rpoMinutes, 5);
  t.deepEqual(db.inRegion.mechanisms, ["rds-pitr"]);
  t.is(db.regional.rpoMinutes, 10);
  t.deepEqual(db.regional.mechanisms, ["rds-pitr-replicated"]);
});

test("the estimated RTO adds the restore of the declared size to detection and TTL", (t) => {
  // 100 GiB at the documented gp3 baseline of 125 MiB/s: 13.65 min; + 15 provisioning + 10 log replay.
  t.is(rdsRestoreMinutes(100, true), 38.7);
  t.is(rdsRestoreMinutes(500, false), 32.1);
  const payments = system(report(declaredPair()), "payments");
  // 10 min decision + 38.7 restore (the pilot light scales meanwhile), then: + 1.5 detection + 1 TTL.
  t.is(payments.regional.rtoMinutes, 51.2);
  t.is(payments.inRegion.rtoMinutes, 48.7);
});

test("dropping cross-region replication leaves the named systems without a regional RPO", (t) => {
  let rs = without(declaredPair(), "aws:rds/instanceAutomatedBackupsReplication:InstanceAutomatedBackupsReplication");
  rs = rs.map((x) =>
    x.type === "aws:backup/plan:Plan"
      ? { ...x, inputs: { rules: (x.inputs.rules as any[]).map((r) => ({ ...r, copyActions: [] })) } }
      : x,
  );
  rs = without(rs, "aws:s3/bucketReplicationConfig:BucketReplicationConfig", /media/);
  const rep = report(rs);
  t.is(rep.verdict, "missed");
  for (const id of ["primary-database", "payments", "authentication", "core-api", "media-storage", "analytics"]) {
    const s = system(rep, id);
    t.is(s.regional.verdict, "missed", id);
    t.is(s.regional.rpoMinutes, null, id);
    t.is(s.inRegion.verdict, "met", id);
  }
  t.true(
    system(rep, "primary-database").regional.reasons.includes(
      "no mechanism copies database out of us-east-1: no regional RPO",
    ),
  );
  t.true(
    system(rep, "media-storage").regional.reasons.includes(
      "no mechanism copies media out of us-east-1: no regional RPO",
    ),
  );
  t.is(system(rep, "cache").verdict, "met");
});

test("without PITR the 6-hourly snapshot alone gives 7 hours and fails the critical systems", (t) => {
  const rs = declaredPair().map((x) =>
    x.type === "aws:rds/instance:Instance" ? { ...x, inputs: { ...x.inputs, backupRetentionPeriod: 0 } } : x,
  );
  const db = system(report(rs), "primary-database");
  t.is(db.inRegion.rpoMinutes, 420);
  t.deepEqual(db.inRegion.reasons, [
    "database: worst-case RPO 7 h (AWS Backup rule database-snapshots (cron(0 */6 * * ? *): every 360 min, start window 60 min), snapshot restore) exceeds the 15 min objective",
  ]);
  t.is(db.regional.rpoMinutes, 480);
  t.is(system(report(rs), "core-api").verdict, "missed");
});

test("removing RTC leaves media replication unbounded and fails media-storage", (t) => {
  const rs = declaredPair().map((x) =>
    x.name === "media-replication"
      ? { ...x, inputs: { rules: [{ id: "m", status: "Enabled", filter: { prefix: "media/" }, destination: {} }] } }
      : x,
  );
  const media = system(report(rs), "media-storage");
  t.is(media.verdict, "missed");
  t.is(media.regional.rpoMinutes, null);
  t.deepEqual(media.regional.reasons, [
    "media: S3 replication of media/ to us-west-2 without Replication Time Control (no bound) gives no bound on data loss",
  ]);
  t.is(media.inRegion.verdict, "met");
});

test("without DNS failover or a pilot light the serving systems have no regional RTO", (t) => {
  const noDns = report(without(declaredPair(), "aws:route53/healthCheck:HealthCheck"));
  t.deepEqual(system(noDns, "core-api").regional.reasons, [
    "no DNS failover is declared: traffic cannot move to the DR region",
  ]);
  t.is(system(noDns, "primary-database").regional.verdict, "met");
  const noPilot = report(without(declaredPair(), "aws:ecs/service:Service"));
  t.deepEqual(system(noPilot, "payments").regional.reasons, [
    "no DR pilot light is declared: no services to serve from the DR region",
  ]);
});

test("a database too large to restore within the hour misses the critical RTO", (t) => {
  const rs = declaredPair().map((x) =>
    x.type === "aws:rds/instance:Instance" ? { ...x, inputs: { ...x.inputs, allocatedStorage: 350 } } : x,
  );
  const db = system(report(rs), "payments");
  t.is(db.regional.verdict, "missed");
  t.regex(db.regional.reasons[0], /^estimated RTO 1 h [\d.]+ min exceeds the 1 h objective$/);
});

test("minutes are printed in the report's units", (t) => {
  t.is(formatMinutes(null), "none");
  t.is(formatMinutes(5), "5 min");
  t.is(formatMinutes(420), "7 h");
  t.is(formatMinutes(90.5), "1 h 30.5 min");
});

test("declaring more never makes a system worse: a subset of the resources meets no tier the whole pair misses", (t) => {
  const full = report(declaredPair());
  fc.assert(
    fc.property(fc.subarray(declaredPair()), (subset) => {
      const partial = report(subset);
      for (const s of partial.systems) {
        const whole = system(full, s.system);
        if (s.inRegion.verdict === "met" && whole.inRegion.verdict !== "met") return false;
        if (s.regional.verdict === "met" && whole.regional.verdict !== "met") return false;
        const worse = (a: number | null, b: number | null) => (a ?? Infinity) > (b ?? Infinity);
        if (
          worse(whole.regional.rpoMinutes, s.regional.rpoMinutes) ||
          worse(whole.inRegion.rpoMinutes, s.inRegion.rpoMinutes)
        )
          return false;
      }
      return true;
    }),
    { numRuns: 200 },
  );
  t.pass();
});

test("with nothing declared every system misses, each with a reason", (t) => {
  const rep = report([]);
  t.is(rep.verdict, "missed");
  for (const s of rep.systems) {
    t.is(s.verdict, "missed", s.system);
    t.true(s.inRegion.reasons.length + s.regional.reasons.length > 0, s.system);
  }
});

test("whole-bucket replication of the backup bucket with RTC gives the exports a regional RPO", (t) => {
  const rs = without(declaredPair(), "aws:s3/bucketReplicationConfig:BucketReplicationConfig", /backups/);
  t.is(system(report(rs), "cache").regional.verdict, "missed");
  const wholeBucket = {
    stack: "prod",
    type: "aws:s3/bucketReplicationConfig:BucketReplicationConfig",
    name: "backups-replication",
    inputs: {
      rules: [
        {
          id: "all",
          status: "Enabled",
          filter: {},
          destination: { replicationTime: { status: "Enabled", time: { minutes: 15 } } },
        },
      ],
    },
  };
  const rep = report([...rs, wholeBucket]);
  for (const id of ["cache", "dev-staging", "docs-internal-tools"]) t.is(system(rep, id).regional.verdict, "met", id);
  t.deepEqual(system(rep, "cache").regional.mechanisms, ["s3-replication-rtc-backupsreplication-cache"]);
});
