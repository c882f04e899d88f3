/**
 * Option specs and the parsers runbooks share. A default is written once, in the option's spec
 * (`OptionSpec.default`): `--help` prints it and a parser reads it through `withDefaults`, so the
 * two cannot disagree. Messages name the value and what is allowed.
 */
import { BadInputError } from "./errors.ts";
import { shown } from "./show.ts";
import type { OptionSpec, RawOptions } from "./types.ts";

/**
 * Pure: `raw` with every option the user left out set to its spec's default (the value `--help`
 * prints); options given, and options without a default, are left as they are. A parser reads
 * values from what this returns and asks `raw` itself only whether a flag was given.
 */
export function withDefaults(spec: Record<string, OptionSpec>, raw: RawOptions): RawOptions {
  const filled: RawOptions = { ...raw };
  for (const [name, option] of Object.entries(spec))
    if (filled[name] === undefined && option.default !== undefined) filled[name] = option.default;
  return filled;
}

/** A string option's value; @throws BadInputError when it is missing (no default, not given). */
export function stringOption(raw: RawOptions, name: string, expected: string): string {
  const value = raw[name];
  if (typeof value !== "string") throw new BadInputError(`missing --${name}: expected ${expected}`);
  return value;
}

/** `--<name>`: a number in (0, max]; @throws BadInputError naming the value (or its absence) and the range. */
export function positiveNumber(raw: RawOptions, name: string, max: number): number {
  const value = raw[name];
  const expected = `a number greater than 0 and at most ${max}`;
  if (value === undefined) throw new BadInputError(`missing --${name}: expected ${expected}`);
  const n = Number(value);
  if (typeof value !== "string" || !Number.isFinite(n) || n <= 0 || n > max) {
    throw new BadInputError(`invalid --${name} ${shown(String(value))}: expected ${expected}`);
  }
  return n;
}

/** `--<name>`: a whole number from 1 to max; @throws BadInputError naming the value and the range. */
export function positiveInt(raw: RawOptions, name: string, max: number): number {
  const n = positiveNumber(raw, name, max);
  if (!Number.isInteger(n))
    throw new BadInputError(`invalid --${name} ${shown(String(raw[name]))}: expected a whole number from 1 to ${max}`);
  return n;
}

export const WAIT_OPTIONS = {
  "max-wait-minutes": {
    type: "string",
    description: "Longest wait for a restore, deployment or DNS change",
    default: "45",
  },
  "health-attempts": {
    type: "string",
    description: "Target-health checks (exponential backoff, up to 30 s apart) before giving up",
    default: "20",
  },
} satisfies Record<string, OptionSpec>;

export interface WaitOptions {
  maxWaitMinutes: number;
  healthAttempts: number;
}

export function parseWaitOptions(raw: RawOptions): WaitOptions {
  const options = withDefaults(WAIT_OPTIONS, raw);
  return {
    maxWaitMinutes: positiveNumber(options, "max-wait-minutes", 24 * 60),
    healthAttempts: positiveInt(options, "health-attempts", 1000),
  };
}
