import test from "ava";
import { ConfigError, readRawConfig } from "../../infra/config/load.ts";
import { evaluateStack, type EvaluatedResource } from "../../infra/offline/evaluate.ts";

const committed = (stack: string, key: string) => structuredClone(readRawConfig(stack)[key]) as Record<string, any>;

const cases: Array<{ title: string; stack: string; overrides: () => Record<string, unknown>; message: string }> = [
  {
    title: "a retention of 0 days",
    stack: "prod",
    overrides: () => ({ "eventchain-dr:database": { backupRetentionDays: 0 } }),
    message:
      "eventchain-dr:database.backupRetentionDays: 0 is not allowed; expected an integer number of days from 1 to 35 (RDS limit; the plan keeps 30)",
  },
  {
    title: "a retention of 36 days",
    stack: "prod",
    overrides: () => ({ "eventchain-dr:database": { backupRetentionDays: 36 } }),
    message:
      "eventchain-dr:database.backupRetentionDays: 36 is not allowed; expected an integer number of days from 1 to 35 (RDS limit; the plan keeps 30)",
  },
  {
    title: "a backup window overlapping the maintenance window",
    stack: "prod",
    overrides: () => ({
      "eventchain-dr:database": { backupWindow: "04:00-05:00", maintenanceWindow: "tue:04:30-tue:05:30" },
    }),
    message:
      'eventchain-dr:database.backupWindow: "04:00-05:00" is not allowed; expected a window that does not overlap database.maintenanceWindow "tue:04:30-tue:05:30"',
  },
  {
    title: "primary and DR in the same region",
    stack: "dr",
    overrides: () => ({ "eventchain-dr:peerRegion": "us-west-2" }),
    message:
      'eventchain-dr:peerRegion: "us-west-2" is not allowed; expected a region other than aws:region "us-west-2": primary and DR must not share a region',
  },
  {
    title: "an unknown tier",
    stack: "dr",
    overrides: () => ({
      "eventchain-dr:classification": { ...committed("dr", "eventchain-dr:classification"), search: "tier-0" },
    }),
    message:
      'eventchain-dr:classification.search: "tier-0" is not allowed; expected one of critical, important, standard',
  },
  {
    title: "a schedule EventBridge would reject",
    stack: "prod",
    overrides: () => ({ "eventchain-dr:schedules": { redisExport: "cron(30 5 * * * *)" } }),
    message:
      'eventchain-dr:schedules.redisExport: "cron(30 5 * * * *)" is not allowed; expected an expression EventBridge Scheduler accepts (cron() must have ? in exactly one of day-of-month and day-of-week)',
  },
  {
    title: "an RPO objective shorter than the declared mechanism gives",
    stack: "prod",
    overrides: () => ({ "eventchain-dr:database": { pointInTimeRecovery: false } }),
    message:
      'eventchain-dr:database.pointInTimeRecovery: false is not allowed; expected true: primary-database is critical (RPO 15 min) but without point-in-time recovery its only mechanism is schedules.databaseBackup "cron(0 */6 * * ? *)", which loses up to 360 min',
  },
];

for (const c of cases) {
  test(`the program refuses ${c.title} before registering any resource`, async (t) => {
    const seen: EvaluatedResource[] = [];
    const error = await t.throwsAsync(evaluateStack(c.stack, { overrides: c.overrides(), resources: seen }), {
      instanceOf: ConfigError,
    });
    t.deepEqual(error?.problems, [c.message]);
    t.true(error?.message.includes(c.message));
    t.deepEqual(seen, []);
  });
}

test("the same overrides made valid again evaluate (the cases above fail for their stated reason)", async (t) => {
  const seen: EvaluatedResource[] = [];
  const evaluation = await evaluateStack("dr", {
    overrides: { "eventchain-dr:database": { backupRetentionDays: 35 } },
    resources: seen,
  });
  t.is(evaluation.outputs.database.backupRetentionDays, 35);
  t.true(seen.length > 30);
});

test("a stack whose peer is not a dr stack is refused", async (t) => {
  await t.throwsAsync(evaluateStack("prod", { overrides: { "eventchain-dr:peerStack": "prod" } }), {
    message: 'peer stack "prod" of "prod" has role primary; expected dr',
  });
});
