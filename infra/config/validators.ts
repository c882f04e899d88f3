/**
 * Pure validators for the values AWS itself would reject: schedule expressions (here), RDS and
 * ElastiCache windows and region names (`windows.ts`, re-exported). Each returns `undefined` when
 * the value is acceptable, or the text of what is allowed (the caller prefixes key and value).
 * No I/O, no config reads.
 */
export {
  AWS_REGIONS,
  parseDailyWindow,
  parseWeeklyWindow,
  REGION_RULE,
  regionProblem,
  windowsOverlap,
  type WeekRanges,
} from "./windows.ts";

/** Who will receive a schedule expression; each accepts a different grammar. */
export type ScheduleTarget = "eventbridge" | "scheduler" | "backup";

const CRON_FIELDS = [
  { name: "minutes", min: 0, max: 59, names: [] as string[] },
  { name: "hours", min: 0, max: 23, names: [] },
  { name: "day-of-month", min: 1, max: 31, names: [] },
  {
    name: "month",
    min: 1,
    max: 12,
    names: ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"],
  },
  { name: "day-of-week", min: 1, max: 7, names: ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"] },
  { name: "year", min: 1970, max: 2199, names: [] },
] as const;

function atom(token: string, field: (typeof CRON_FIELDS)[number]): boolean {
  const value = (s: string): number | undefined => {
    const upper = s.toUpperCase();
    const named = (field.names as readonly string[]).indexOf(upper);
    if (named >= 0) return named + 1;
    if (!/^\d+$/.test(s)) return undefined;
    const n = Number(s);
    return n >= field.min && n <= field.max ? n : undefined;
  };
  if (token === "*") return true;
  const [range, step, extra] = token.split("/");
  if (extra !== undefined) return false;
  if (step !== undefined && !(/^\d+$/.test(step) && Number(step) >= 1)) return false;
  if (range === "*") return true;
  if (field.name === "day-of-month" && /^(L|LW|\d{1,2}W)$/.test(range) && step === undefined) return true;
  if (field.name === "day-of-week" && step === undefined && /^(\w{1,3}L|\w{1,3}#[1-5])$/i.test(range)) {
    return value(range.replace(/(L|#[1-5])$/i, "")) !== undefined;
  }
  const bounds = range.split("-");
  if (bounds.length > 2) return false;
  return bounds.every((b) => value(b) !== undefined);
}

/** Checks a `cron(...)` body of six fields as EventBridge and AWS Backup accept it. */
function cronProblem(body: string): string | undefined {
  const fields = body.trim().split(/\s+/);
  if (fields.length !== 6) {
    return `cron() needs 6 fields (minutes hours day-of-month month day-of-week year), got ${fields.length}`;
  }
  for (const [i, field] of CRON_FIELDS.entries()) {
    const text = fields[i];
    if (text === "?" && (field.name === "day-of-month" || field.name === "day-of-week")) continue;
    if (!text.split(",").every((t) => atom(t, field))) {
      return `cron() field ${field.name} "${text}" is not valid (allowed ${field.min}-${field.max}${field.names.length ? " or " + field.names[0] + "-" + field.names[field.names.length - 1] : ""} with , - * /)`;
    }
  }
  const [, , dom, , dow] = fields;
  if ((dom === "?") === (dow === "?")) {
    return "cron() must have ? in exactly one of day-of-month and day-of-week";
  }
  return undefined;
}

function rateProblem(body: string): string | undefined {
  const match = /^(\d+) (minute|minutes|hour|hours|day|days)$/.exec(body.trim());
  if (!match || Number(match[1]) < 1) return "rate() needs a positive integer and a unit: minute(s), hour(s) or day(s)";
  const singular = !match[2].endsWith("s");
  if (Number(match[1]) === 1 && !singular)
    return `rate(1 ${match[2]}) must use the singular unit "${match[2].slice(0, -1)}"`;
  if (Number(match[1]) > 1 && singular) return `rate(${match[1]} ${match[2]}) must use the plural unit "${match[2]}s"`;
  return undefined;
}

/**
 * What `target` would reject about `expression`, or `undefined` when it accepts it.
 * EventBridge rules and Scheduler take `cron(...)` or `rate(...)`; AWS Backup takes only
 * `cron(...)`, at most once an hour.
 */
export function scheduleProblem(expression: string, target: ScheduleTarget): string | undefined {
  const accepts =
    target === "backup"
      ? "cron(minutes hours day-of-month month day-of-week year)"
      : "cron(minutes hours day-of-month month day-of-week year) or rate(value unit)";
  const match = /^(cron|rate)\((.*)\)$/s.exec(expression);
  if (!match) return `expected ${accepts}`;
  if (match[1] === "rate") {
    if (target === "backup") return "AWS Backup accepts only cron(...) expressions, not rate(...)";
    const problem = rateProblem(match[2]);
    return problem;
  }
  const problem = cronProblem(match[2]);
  if (problem) return problem;
  if (target === "backup") {
    const minute = match[2].trim().split(/\s+/)[0];
    if (!/^\d+$/.test(minute))
      return `AWS Backup runs a rule at most once an hour: the minutes field must be a single number, got "${minute}"`;
  }
  return undefined;
}

function expand(text: string, min: number, max: number): number[] | undefined {
  const out = new Set<number>();
  for (const part of text.split(",")) {
    const [range, stepText] = part.split("/");
    const step = stepText === undefined ? 1 : Number(stepText);
    let lo = min,
      hi = max;
    if (range !== "*" && range !== "?") {
      const b = range.split("-").map(Number);
      if (b.some((n) => !Number.isInteger(n))) return undefined;
      lo = b[0];
      hi = b.length === 2 ? b[1] : stepText === undefined ? b[0] : max;
    }
    for (let v = lo; v <= hi; v += step) out.add(v);
  }
  return [...out].sort((a, b) => a - b);
}

/**
 * The longest gap, in minutes, between two runs of a valid schedule: the worst-case data loss
 * of a backup taken on it. Day restrictions it cannot model give a conservative 31 days.
 */
export function longestIntervalMinutes(expression: string): number {
  const rate = /^rate\((\d+) (minute|hour|day)s?\)$/.exec(expression);
  if (rate) return Number(rate[1]) * { minute: 1, hour: 60, day: 1440 }[rate[2] as "minute" | "hour" | "day"];
  const fields = /^cron\((.*)\)$/.exec(expression)?.[1].trim().split(/\s+/);
  if (!fields || fields.length !== 6) throw new Error(`not a schedule expression: ${expression}`);
  const [min, hour, dom, month, dow] = fields;
  const minutes = expand(min, 0, 59);
  const hours = expand(hour, 0, 23);
  const everyDay = (dom === "*" || dom === "?") && (dow === "*" || dow === "?") && month === "*";
  if (!minutes || !hours || !everyDay) return 31 * 1440;
  const times = hours.flatMap((h) => minutes.map((m) => h * 60 + m));
  let worst = times[0] + 1440 - times[times.length - 1];
  for (let i = 1; i < times.length; i++) worst = Math.max(worst, times[i] - times[i - 1]);
  return worst;
}

/** Minutes of the day a daily cron runs at, or undefined when it is not an every-day cron. */
function dailyTimes(expression: string): number[] | undefined {
  const fields = /^cron\((.*)\)$/.exec(expression)?.[1].trim().split(/\s+/);
  if (!fields || fields.length !== 6) return undefined;
  const [min, hour, dom, month, dow] = fields;
  const minutes = expand(min, 0, 59);
  const hours = expand(hour, 0, 23);
  const everyDay = (dom === "*" || dom === "?") && (dow === "*" || dow === "?") && month === "*";
  if (!minutes || !hours || !everyDay) return undefined;
  return hours.flatMap((h) => minutes.map((m) => h * 60 + m)).sort((a, b) => a - b);
}

/**
 * The longest gap, in minutes, between two runs of any of `expressions` (their union): when at
 * least one success is due. Every-day crons are merged exactly; otherwise the most frequent
 * expression's own longest gap bounds the union.
 */
export function longestGapMinutes(expressions: readonly string[]): number {
  if (expressions.length === 0) throw new Error("longestGapMinutes needs at least one schedule expression");
  const times = expressions.map(dailyTimes);
  if (times.every((t) => t !== undefined)) {
    const all = [...new Set(times.flat())].sort((a, b) => a - b);
    let worst = all[0] + 1440 - all[all.length - 1];
    for (let i = 1; i < all.length; i++) worst = Math.max(worst, all[i] - all[i - 1]);
    return worst;
  }
  return Math.min(...expressions.map(longestIntervalMinutes));
}

/** A heartbeat alarm fires when no success is recorded within this many times the schedule's longest gap. */
export const HEARTBEAT_FACTOR = 1.5;
/** CloudWatch evaluates an alarm over at most 7 days (Period × EvaluationPeriods ≤ 604,800 s). */
export const LONGEST_ALARM_WINDOW_MINUTES = 7 * 1440;

/** The heartbeat window of a backup path on `expressions`, in whole minutes. */
export function heartbeatWindowMinutes(expressions: readonly string[]): number {
  return Math.ceil(HEARTBEAT_FACTOR * longestGapMinutes(expressions));
}
