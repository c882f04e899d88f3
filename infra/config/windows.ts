/**
 * RDS and ElastiCache maintenance/backup windows and AWS region names, as pure validators:
 * each returns the parsed value or the text of what is allowed. No I/O, no config reads.
 */
import { Region as ProviderRegion } from "@pulumi/aws/types/enums/index.js";
import { closest } from "./suggest.ts";

const DAYS = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];

/** A window as [start, end) minute ranges within a week (0 = Sunday 00:00 UTC). */
export type WeekRanges = Array<[number, number]>;

const hhmm = (h: string, m: string): number | undefined => {
  const hours = Number(h),
    minutes = Number(m);
  return hours <= 23 && minutes <= 59 ? hours * 60 + minutes : undefined;
};

/** Parses a daily window `hh24:mi-hh24:mi` (UTC) of at least `minLength` minutes. */
export function parseDailyWindow(text: string, minLength: number): { ranges: WeekRanges } | { problem: string } {
  const match = /^(\d{2}):(\d{2})-(\d{2}):(\d{2})$/.exec(text);
  const start = match && hhmm(match[1], match[2]);
  const end = match && hhmm(match[3], match[4]);
  if (start == null || end == null) return { problem: "expected a daily UTC window hh24:mi-hh24:mi, e.g. 03:00-04:00" };
  const length = (end - start + 1440) % 1440;
  if (length < minLength)
    return { problem: `the window must last at least ${minLength} minutes, this one lasts ${length}` };
  const ranges: WeekRanges = [];
  for (let d = 0; d < 7; d++) ranges.push([d * 1440 + start, d * 1440 + start + length]);
  return { ranges };
}

/** Parses a weekly window `ddd:hh24:mi-ddd:hh24:mi` (UTC) of at least `minLength` minutes. */
export function parseWeeklyWindow(text: string, minLength: number): { ranges: WeekRanges } | { problem: string } {
  const match = /^([a-z]{3}):(\d{2}):(\d{2})-([a-z]{3}):(\d{2}):(\d{2})$/.exec(text.toLowerCase());
  const d1 = match ? DAYS.indexOf(match[1]) : -1,
    d2 = match ? DAYS.indexOf(match[4]) : -1;
  const s = match && hhmm(match[2], match[3]),
    e = match && hhmm(match[5], match[6]);
  if (d1 < 0 || d2 < 0 || s == null || e == null)
    return {
      problem:
        "expected a weekly UTC window ddd:hh24:mi-ddd:hh24:mi with ddd one of sun..sat, e.g. sun:05:00-sun:06:00",
    };
  const start = d1 * 1440 + s;
  const length = (d2 * 1440 + e - start + 7 * 1440) % (7 * 1440);
  if (length < minLength)
    return { problem: `the window must last at least ${minLength} minutes, this one lasts ${length}` };
  return { ranges: [[start, start + length]] };
}

/** True when two windows share at least one minute of the week (wrapping at Sunday 00:00). */
export function windowsOverlap(a: WeekRanges, b: WeekRanges): boolean {
  const week = 7 * 1440;
  const shifted = (r: WeekRanges) =>
    r.flatMap(
      ([s, e]) =>
        [
          [s, e],
          [s - week, e - week],
          [s + week, e + week],
        ] as Array<[number, number]>,
    );
  return shifted(a).some(([s1, e1]) => b.some(([s2, e2]) => s1 < e2 && s2 < e1));
}

/**
 * The regions the AWS provider itself knows (its `Region` enum, @pulumi/aws): a name outside it
 * (a typo, a region that does not exist such as us-east-9) is refused, with the nearest one.
 */
export const AWS_REGIONS: readonly string[] = Object.values(ProviderRegion);

/** What a region must be, for messages. */
export const REGION_RULE = `a region the AWS provider knows (one of the ${AWS_REGIONS.length} of @pulumi/aws's Region, e.g. us-east-1)`;

/** Undefined for a known region; else the nearest known one, or that none is near. */
export function regionProblem(region: string): string | undefined {
  if (AWS_REGIONS.includes(region)) return undefined;
  const near = closest(region, AWS_REGIONS);
  return near ? `did you mean "${near}"?` : "no known region is near it";
}
