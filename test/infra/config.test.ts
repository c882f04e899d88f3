import test from "ava";
import fc from "fast-check";
import { ConfigError, loadConfigFromFiles, readRawConfig, validateConfig } from "../../infra/config/load.ts";

const withChange = (stack: string, key: string, change: (value: any) => unknown) => {
  const raw = structuredClone(readRawConfig(stack));
  raw[key] = change(structuredClone(raw[key]));
  return raw;
};

const problemsOf = (raw: Record<string, unknown>, stack = "prod"): string[] => {
  const error = (() => {
    try {
      validateConfig(raw, stack);
    } catch (e) {
      return e;
    }
    return undefined;
  })();
  if (!(error instanceof ConfigError)) throw new Error("expected a ConfigError");
  return error.problems;
};

test("the committed prod and dr configs are valid and carry the plan's figures", (t) => {
  const prod = loadConfigFromFiles("prod");
  const dr = loadConfigFromFiles("dr");
  t.is(prod.role, "primary");
  t.is(prod.region, "us-east-1");
  t.is(dr.role, "dr");
  t.is(dr.region, "us-west-2");
  t.is(prod.peerRegion, dr.region);
  t.is(prod.database.backupRetentionDays, 30);
  t.true(prod.database.pointInTimeRecovery);
  t.is(prod.schedules.databaseBackup, "cron(0 */6 * * ? *)");
  t.is(prod.schedules.fullBackup, "cron(0 2 * * ? *)");
  t.is(dr.services.backend.recoveryCount, 3);
  t.is(dr.services.frontend.recoveryCount, 2);
  t.deepEqual(prod.objectives.critical, { rtoMinutes: 60, rpoMinutes: 15 });
  t.is(prod.classification["primary-database"], "critical");
});

test("a retention of 0 days is rejected naming the key, value and range", (t) => {
  const raw = withChange("prod", "eventchain-dr:database", (d) => ({ ...d, backupRetentionDays: 0 }));
  t.deepEqual(problemsOf(raw), [
    "eventchain-dr:database.backupRetentionDays: 0 is not allowed; expected an integer number of days from 1 to 35 (RDS limit; the plan keeps 30)",
  ]);
});

test("a retention of 36 days is rejected", (t) => {
  const raw = withChange("prod", "eventchain-dr:database", (d) => ({ ...d, backupRetentionDays: 36 }));
  t.deepEqual(problemsOf(raw), [
    "eventchain-dr:database.backupRetentionDays: 36 is not allowed; expected an integer number of days from 1 to 35 (RDS limit; the plan keeps 30)",
  ]);
});

test("a backup window overlapping the maintenance window is rejected", (t) => {
  const raw = withChange("prod", "eventchain-dr:database", (d) => ({ ...d, backupWindow: "05:30-06:30" }));
  t.deepEqual(problemsOf(raw), [
    'eventchain-dr:database.backupWindow: "05:30-06:30" is not allowed; expected a window that does not overlap database.maintenanceWindow "sun:05:00-sun:06:00"',
  ]);
});

test("primary and DR in the same region is rejected", (t) => {
  const raw = withChange("prod", "eventchain-dr:peerRegion", () => "us-east-1");
  t.deepEqual(problemsOf(raw), [
    'eventchain-dr:peerRegion: "us-east-1" is not allowed; expected a region other than aws:region "us-east-1": primary and DR must not share a region',
  ]);
});

test("an unknown tier is rejected with the allowed tiers", (t) => {
  const raw = withChange("prod", "eventchain-dr:classification", (c) => ({ ...c, payments: "gold" }));
  t.deepEqual(problemsOf(raw), [
    'eventchain-dr:classification.payments: "gold" is not allowed; expected one of critical, important, standard',
  ]);
});

test("an unknown system and a missing system are both rejected", (t) => {
  const raw = withChange("prod", "eventchain-dr:classification", (c) => {
    delete c.search;
    return { ...c, billing: "critical" };
  });
  const problems = problemsOf(raw);
  t.true(
    problems.some((p) =>
      p.startsWith("eventchain-dr:classification.billing: unknown key; expected one of primary-database, payments,"),
    ),
  );
  t.true(
    problems.includes("eventchain-dr:classification.search: missing; expected one of critical, important, standard"),
  );
});

test("a schedule EventBridge Scheduler would reject is rejected", (t) => {
  const raw = withChange("prod", "eventchain-dr:schedules", () => ({ logicalBackup: "cron(0 2 * * *)" }));
  t.deepEqual(problemsOf(raw), [
    'eventchain-dr:schedules.logicalBackup: "cron(0 2 * * *)" is not allowed; expected an expression EventBridge Scheduler accepts (cron() needs 6 fields (minutes hours day-of-month month day-of-week year), got 5)',
  ]);
});

test("a rate schedule for an AWS Backup rule is rejected", (t) => {
  const raw = withChange("prod", "eventchain-dr:schedules", () => ({ databaseBackup: "rate(6 hours)" }));
  t.deepEqual(problemsOf(raw), [
    'eventchain-dr:schedules.databaseBackup: "rate(6 hours)" is not allowed; expected an expression AWS Backup accepts (AWS Backup accepts only cron(...) expressions, not rate(...))',
  ]);
});

test("an RPO shorter than the declared mechanism gives is rejected", (t) => {
  const raw = withChange("prod", "eventchain-dr:database", (d) => ({ ...d, pointInTimeRecovery: false }));
  t.deepEqual(problemsOf(raw), [
    'eventchain-dr:database.pointInTimeRecovery: false is not allowed; expected true: primary-database is critical (RPO 15 min) but without point-in-time recovery its only mechanism is schedules.databaseBackup "cron(0 */6 * * ? *)", which loses up to 360 min',
  ]);
});

test("the objective check can be turned off for the posture report", (t) => {
  const raw = withChange("prod", "eventchain-dr:database", (d) => ({ ...d, pointInTimeRecovery: false }));
  t.false(validateConfig(raw, "prod", { checkObjectives: false }).database.pointInTimeRecovery);
});

test("dropping the media replication rule misses the media-storage objective", (t) => {
  const raw = withChange("prod", "eventchain-dr:replication", () => ({ rules: [] }));
  t.deepEqual(problemsOf(raw), [
    'eventchain-dr:replication.rules: [] is not allowed; expected a rule for prefix "media/": media-storage is important (RPO 60 min) and nothing else copies it to us-west-2',
  ]);
});

test("an RTC other than 15 minutes is rejected", (t) => {
  const raw = withChange("prod", "eventchain-dr:replication", (r) => ({ rules: [{ ...r.rules[0], rtcMinutes: 10 }] }));
  t.deepEqual(problemsOf(raw), [
    "eventchain-dr:replication.rules.0.rtcMinutes: 10 is not allowed; expected 15 (the only value S3 Replication Time Control supports), or null to turn RTC off",
  ]);
});

test("every problem is reported in one run", (t) => {
  const raw = withChange("prod", "eventchain-dr:database", (d) => ({
    ...d,
    backupRetentionDays: 36,
    backupWindow: "05:30-06:30",
    typo: 1,
  }));
  raw["eventchain-dr:peerRegion"] = "us-east-1";
  const problems = problemsOf(raw);
  t.is(problems.length, 4);
  t.true(problems[0].startsWith("eventchain-dr:database.backupRetentionDays: 36 is not allowed"));
  t.true(
    problems.some((p) =>
      p.startsWith("eventchain-dr:database.typo: unknown key; expected one of identifier, restoreIdentifier"),
    ),
  );
  t.true(problems.some((p) => p.startsWith('eventchain-dr:peerRegion: "us-east-1" is not allowed')));
  t.true(problems.some((p) => p.startsWith('eventchain-dr:database.backupWindow: "05:30-06:30" is not allowed')));
});

test("the dr role needs a certificate and public subnets for its load balancer", (t) => {
  const raw = withChange("dr", "eventchain-dr:services", (s) => {
    delete s.certificateArn;
    return s;
  });
  raw["eventchain-dr:network"] = { ...(raw["eventchain-dr:network"] as object), publicSubnetIds: [] };
  t.deepEqual(problemsOf(raw, "dr"), [
    "eventchain-dr:services.certificateArn: missing; expected an ACM certificate ARN in the DR region for the DR load balancer's HTTPS listener (role dr)",
    "eventchain-dr:network.publicSubnetIds: [] is not allowed; expected at least 2 subnet ids for the DR load balancer (role dr)",
  ]);
});

test("the error message lists every problem under the stack name", (t) => {
  const raw = withChange("prod", "eventchain-dr:role", () => "secondary");
  const error = t.throws(() => validateConfig(raw, "prod"), { instanceOf: ConfigError });
  t.is(
    error?.message,
    'invalid config for stack "prod" (1 problem):\n  - eventchain-dr:role: "secondary" is not allowed; expected one of primary, dr',
  );
});

test("a stack without a stack file is refused by name", (t) => {
  t.throws(() => loadConfigFromFiles("staging"), {
    message: /^no stack file Pulumi\.staging\.yaml in .*; expected one of the committed stacks \(prod, dr\)$/,
  });
  t.throws(() => loadConfigFromFiles("../etc"), {
    message: 'stack name "../etc" is not allowed; expected letters, digits, ".", "_" or "-"',
  });
});

test("a Redis export scheduled inside the snapshot window is rejected", (t) => {
  const raw = withChange("prod", "eventchain-dr:schedules", () => ({ redisExport: "cron(30 4 * * ? *)" }));
  t.deepEqual(problemsOf(raw), [
    'eventchain-dr:schedules.redisExport: "cron(30 4 * * ? *)" is not allowed; expected a time outside cache.snapshotWindow "04:00-05:00": the export copies the snapshot that window produces',
  ]);
});

test("every retention from 1 to 35 days is accepted and every other integer refused", (t) => {
  t.notThrows(() => {
    fc.assert(
      fc.property(fc.integer({ min: -1000, max: 1000 }), (days) => {
        const raw = withChange("prod", "eventchain-dr:database", (d) => ({ ...d, backupRetentionDays: days }));
        if (days >= 1 && days <= 35) return validateConfig(raw, "prod").database.backupRetentionDays === days;
        const problems = problemsOf(raw);
        return (
          problems.length === 1 &&
          problems[0] ===
            `eventchain-dr:database.backupRetentionDays: ${days} is not allowed; expected an integer number of days from 1 to 35 (RDS limit; the plan keeps 30)`
        );
      }),
      { numRuns: 200 },
    );
  });
});

test("any daily backup window is refused exactly when it overlaps the weekly maintenance window", (t) => {
  const hhmm = (m: number) => `${String(Math.floor(m / 60) % 24).padStart(2, "0")}:${String(m % 60).padStart(2, "0")}`;
  t.notThrows(() => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 1439 }), fc.integer({ min: 30, max: 180 }), (start, length) => {
        const window = `${hhmm(start)}-${hhmm(start + length)}`;
        const raw = withChange("prod", "eventchain-dr:database", (d) => ({
          ...d,
          backupWindow: window,
          maintenanceWindow: "sun:05:00-sun:06:00",
        }));
        const overlaps = [start, start - 1440].some((s) => s < 360 && 300 < s + length);
        let refused: boolean;
        try {
          validateConfig(raw, "prod");
          refused = false;
        } catch (e) {
          refused =
            e instanceof ConfigError &&
            e.problems.some((p) =>
              p.startsWith(
                `eventchain-dr:database.backupWindow: "${window}" is not allowed; expected a window that does not overlap`,
              ),
            );
        }
        return refused === overlaps;
      }),
      { numRuns: 300 },
    );
  });
});

test("alerts need a destination and refuse plain-http endpoints", (t) => {
  t.deepEqual(problemsOf(withChange("prod", "eventchain-dr:alerts", () => ({ emails: [] }))), [
    'eventchain-dr:alerts: {"emails":[]} is not allowed; expected at least one destination in emails or httpsEndpoints (failures must reach someone)',
  ]);
  t.deepEqual(
    problemsOf(withChange("prod", "eventchain-dr:alerts", () => ({ httpsEndpoints: ["http://hooks.example.com/x"] }))),
    [
      'eventchain-dr:alerts.httpsEndpoints.0: "http://hooks.example.com/x" is not allowed; expected an https:// URL (plain http is not allowed)',
    ],
  );
});

test("Kubernetes jobs without an OIDC provider are refused (no static keys)", (t) => {
  const raw = withChange("prod", "eventchain-dr:kubernetes", () => ({ enabled: true }));
  t.deepEqual(problemsOf(raw), [
    "eventchain-dr:kubernetes.oidcProviderArn: missing; expected the cluster's IAM OIDC provider ARN and kubernetes.oidcIssuer when kubernetes.enabled is true (IRSA: no static keys)",
  ]);
});

test("an Object Lock shorter than a prefix's retention is refused, naming each longer prefix", (t) => {
  const raw = withChange("prod", "eventchain-dr:backup", () => ({ objectLockDays: 30 }));
  t.deepEqual(problemsOf(raw), [
    "eventchain-dr:backup.objectLockDays: 30 is not allowed; expected at least the longest prefix retention (bucketRetentionDays.infrastructure 90, bucketRetentionDays.code 90): a backup must stay locked for as long as it is kept, or it can be deleted before it expires; leave objectLockDays unset to use the longest retention",
  ]);
});

test("without objectLockDays the lock is the longest prefix retention; a longer one is refused (the expiry would mean nothing)", (t) => {
  t.is(loadConfigFromFiles("prod").backup.objectLockDays, 90);
  t.is(
    validateConfig(
      withChange("prod", "eventchain-dr:backup", () => ({ objectLockDays: 90 })),
      "prod",
    ).backup.objectLockDays,
    90,
  );
  t.deepEqual(problemsOf(withChange("prod", "eventchain-dr:backup", () => ({ objectLockDays: 3650 }))), [
    "eventchain-dr:backup.objectLockDays: 3650 is not allowed; expected at most the longest prefix retention (90 days, backup.bucketRetentionDays): a lock longer than every expiry keeps each backup for 3650 days whatever bucketRetentionDays says; to keep backups longer, raise bucketRetentionDays (the lock follows it when objectLockDays is unset)",
  ]);
});

test("a backup schedule whose heartbeat CloudWatch cannot evaluate (over 7 days) is refused", (t) => {
  const raw = withChange("prod", "eventchain-dr:schedules", () => ({ codeBackup: "cron(0 4 ? * MON *)" }));
  t.deepEqual(problemsOf(raw), [
    'eventchain-dr:schedules.codeBackup: "cron(0 4 ? * MON *)" is not allowed; expected a schedule that runs at least every 6720 min: its heartbeat alarm fires when no success is recorded within 1.5 × the longest gap (here 66960 min), and CloudWatch evaluates an alarm over at most 10080 min',
  ]);
});

test("the primary's jobs need the state bucket, the code repository and the file system of the app-config directories", (t) => {
  const raw = withChange("prod", "eventchain-dr:logicalBackups", () => ({}));
  t.deepEqual(problemsOf(raw), [
    'eventchain-dr:logicalBackups.appConfigFileSystemId: missing; expected the EFS file system holding logicalBackups.appConfigDirs ["/etc/eventchain","/opt/eventchain/configs"], mounted read-only into the infrastructure export (a job cannot see the application hosts\' disks); or appConfigDirs [] to archive none',
    "eventchain-dr:logicalBackups.pulumiStateBucket: missing; expected the S3 bucket of the Pulumi state backend (PULUMI_BACKEND_URL s3://<bucket>) that the daily infrastructure export copies (role primary)",
    "eventchain-dr:logicalBackups.codeRepository: missing; expected the application's git repository { url, tokenSecretArn } that the daily code bundle backs up (role primary)",
  ]);
});

test("an app-config directory under .kube or relative is refused (kubeconfig holds credentials)", (t) => {
  const raw = withChange("prod", "eventchain-dr:logicalBackups", (l) => ({
    ...l,
    appConfigDirs: ["/root/.kube", "etc/eventchain"],
  }));
  t.deepEqual(problemsOf(raw), [
    'eventchain-dr:logicalBackups.appConfigDirs.0: "/root/.kube" is not allowed; expected an absolute directory path (no .kube: kubeconfig holds credentials and is never archived)',
    'eventchain-dr:logicalBackups.appConfigDirs.1: "etc/eventchain" is not allowed; expected an absolute directory path (no .kube: kubeconfig holds credentials and is never archived)',
  ]);
});
