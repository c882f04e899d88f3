import test from "ava";
import fc from "fast-check";
import {
  longestIntervalMinutes,
  parseDailyWindow,
  parseWeeklyWindow,
  regionProblem,
  scheduleProblem,
  windowsOverlap,
} from "../../infra/config/validators.ts";

test("the plan's schedules are accepted by the services that run them", (t) => {
  t.is(scheduleProblem("cron(0 */6 * * ? *)", "backup"), undefined);
  t.is(scheduleProblem("cron(0 2 * * ? *)", "backup"), undefined);
  t.is(scheduleProblem("rate(6 hours)", "eventbridge"), undefined);
  t.is(scheduleProblem("cron(0 6 ? * MON *)", "scheduler"), undefined);
  t.is(scheduleProblem("rate(1 day)", "scheduler"), undefined);
});

test("AWS Backup rejects rate expressions", (t) => {
  t.is(scheduleProblem("rate(6 hours)", "backup"), "AWS Backup accepts only cron(...) expressions, not rate(...)");
});

test("AWS Backup rejects a rule that runs more than once an hour", (t) => {
  t.is(
    scheduleProblem("cron(*/15 * * * ? *)", "backup"),
    'AWS Backup runs a rule at most once an hour: the minutes field must be a single number, got "*/15"',
  );
});

test("a five-field Unix cron is rejected with the field count", (t) => {
  t.is(
    scheduleProblem("cron(0 2 * * *)", "eventbridge"),
    "cron() needs 6 fields (minutes hours day-of-month month day-of-week year), got 5",
  );
});

test("day-of-month and day-of-week cannot both be set or both be ?", (t) => {
  const message = "cron() must have ? in exactly one of day-of-month and day-of-week";
  t.is(scheduleProblem("cron(0 2 * * * *)", "eventbridge"), message);
  t.is(scheduleProblem("cron(0 2 ? * ? *)", "eventbridge"), message);
});

test("out-of-range cron fields name the field and its range", (t) => {
  t.is(
    scheduleProblem("cron(0 24 * * ? *)", "eventbridge"),
    'cron() field hours "24" is not valid (allowed 0-23 with , - * /)',
  );
  t.is(
    scheduleProblem("cron(0 2 ? * 8 *)", "eventbridge"),
    'cron() field day-of-week "8" is not valid (allowed 1-7 or SUN-SAT with , - * /)',
  );
});

test("rate units must agree with the value in number", (t) => {
  t.is(scheduleProblem("rate(1 hours)", "eventbridge"), 'rate(1 hours) must use the singular unit "hour"');
  t.is(scheduleProblem("rate(6 hour)", "eventbridge"), 'rate(6 hour) must use the plural unit "hours"');
  t.is(
    scheduleProblem("rate(0 hours)", "eventbridge"),
    "rate() needs a positive integer and a unit: minute(s), hour(s) or day(s)",
  );
  t.is(
    scheduleProblem("every 6 hours", "eventbridge"),
    "expected cron(minutes hours day-of-month month day-of-week year) or rate(value unit)",
  );
});

test("the longest gap of the plan's schedules is 6 hours and 24 hours", (t) => {
  t.is(longestIntervalMinutes("cron(0 */6 * * ? *)"), 360);
  t.is(longestIntervalMinutes("cron(0 2 * * ? *)"), 1440);
  t.is(longestIntervalMinutes("rate(6 hours)"), 360);
  t.is(longestIntervalMinutes("cron(0 1,23 * * ? *)"), 1320);
  t.is(longestIntervalMinutes("cron(0 6 ? * MON *)"), 31 * 1440);
});

test("an hourly-step cron's longest gap is its step", (t) => {
  t.notThrows(() => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 12 }).filter((n) => 24 % n === 0),
        fc.integer({ min: 0, max: 59 }),
        (step, minute) => {
          const expression = `cron(${minute} */${step} * * ? *)`;
          return (
            scheduleProblem(expression, "backup") === undefined && longestIntervalMinutes(expression) === step * 60
          );
        },
      ),
    );
  });
});

test("the plan's backup window does not overlap the maintenance window", (t) => {
  const backup = parseDailyWindow("03:00-04:00", 30);
  const maintenance = parseWeeklyWindow("sun:05:00-sun:06:00", 30);
  if (!("ranges" in backup) || !("ranges" in maintenance)) return t.fail("windows should parse");
  t.false(windowsOverlap(backup.ranges, maintenance.ranges));
});

test("a daily window overlapping a weekly one is found, including across midnight", (t) => {
  const cases: Array<[string, string, boolean]> = [
    ["05:30-06:30", "sun:06:00-sun:07:00", true],
    ["23:30-00:30", "mon:00:00-mon:00:30", true],
    ["23:30-00:30", "sat:23:45-sun:00:15", true],
    ["03:00-04:00", "wed:04:00-wed:05:00", false],
  ];
  for (const [daily, weekly, expected] of cases) {
    const a = parseDailyWindow(daily, 30),
      b = parseWeeklyWindow(weekly, 30);
    if (!("ranges" in a) || !("ranges" in b)) return t.fail(`${daily} / ${weekly} should parse`);
    t.is(windowsOverlap(a.ranges, b.ranges), expected, `${daily} vs ${weekly}`);
  }
});

test("malformed or too short windows say what is expected", (t) => {
  t.deepEqual(parseDailyWindow("3am-4am", 30), {
    problem: "expected a daily UTC window hh24:mi-hh24:mi, e.g. 03:00-04:00",
  });
  t.deepEqual(parseDailyWindow("03:00-03:15", 30), {
    problem: "the window must last at least 30 minutes, this one lasts 15",
  });
  t.deepEqual(parseWeeklyWindow("funday:05:00-sun:06:00", 30), {
    problem: "expected a weekly UTC window ddd:hh24:mi-ddd:hh24:mi with ddd one of sun..sat, e.g. sun:05:00-sun:06:00",
  });
});

test("region names are checked", (t) => {
  t.is(regionProblem("us-west-2"), undefined);
  t.is(regionProblem("us-gov-west-1"), undefined);
  t.is(regionProblem("us-west"), 'did you mean "us-west-1"?');
  t.is(regionProblem("us-east-9"), 'did you mean "us-east-1"?', "the shape of a region name is not enough");
  t.is(regionProblem("nowhere"), "no known region is near it");
});
