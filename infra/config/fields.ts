/**
 * Field builders for the config schema: each carries the text of what is allowed, which
 * `load.ts` puts after the key and the bad value. AWS-specific grammars (schedules, windows,
 * regions) are checked by the pure validators in `validators.ts`.
 */
import { z } from "zod";
import {
  parseDailyWindow,
  parseWeeklyWindow,
  REGION_RULE,
  regionProblem,
  scheduleProblem,
  type ScheduleTarget,
} from "./validators.ts";

export const int = (min: number, max: number, allowed: string) =>
  z.number(allowed).int(allowed).min(min, allowed).max(max, allowed);
export const text = (pattern: RegExp, allowed: string) => z.string(allowed).regex(pattern, allowed);
export const oneOf = <const T extends readonly [string, ...string[]]>(values: T) =>
  z.enum(values, `one of ${values.join(", ")}`);
export const bool = z.boolean("true or false");
export const refined = (allowed: string, check: (v: string) => string | undefined) =>
  z.string(allowed).superRefine((v, ctx) => {
    const p = check(v);
    if (p) ctx.addIssue({ code: "custom", message: `${allowed} (${p})` });
  });

const TARGET_NAMES: Record<ScheduleTarget, string> = {
  backup: "AWS Backup",
  eventbridge: "EventBridge",
  scheduler: "EventBridge Scheduler",
};
export const schedule = (target: ScheduleTarget, fallback: string) =>
  refined(`an expression ${TARGET_NAMES[target]} accepts`, (v) => scheduleProblem(v, target)).default(fallback);
export const dailyWindow = (minutes: number, fallback: string) =>
  refined(`a daily UTC window hh24:mi-hh24:mi of at least ${minutes} minutes`, (v) => {
    const r = parseDailyWindow(v, minutes);
    return "problem" in r ? r.problem : undefined;
  }).default(fallback);
export const weeklyWindow = (minutes: number, fallback: string) =>
  refined(`a weekly UTC window ddd:hh24:mi-ddd:hh24:mi of at least ${minutes} minutes`, (v) => {
    const r = parseWeeklyWindow(v, minutes);
    return "problem" in r ? r.problem : undefined;
  }).default(fallback);
export const region = refined(REGION_RULE, regionProblem);
export const arn = (service: string) =>
  text(new RegExp(`^arn:aws[a-z-]*:${service}:`), `an ARN of the form arn:aws:${service}:...`);
export const subnets = z.array(text(/^subnet-[0-9a-f]{8,17}$/, "a subnet id subnet-xxxxxxxx"), "a list of subnet ids");
