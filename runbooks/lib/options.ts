/** Option specs and parsers shared by the AWS runbooks. Messages name the value and what is allowed. */
import { BadInputError } from "./errors.ts";
import type { OptionSpec, RawOptions } from "./types.ts";

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

export function positiveNumber(raw: RawOptions, name: string, fallback: number, max: number): number {
  const value = raw[name];
  if (value === undefined) return fallback;
  const n = Number(value);
  if (typeof value !== "string" || !Number.isFinite(n) || n <= 0 || n > max) {
    throw new BadInputError(
      `invalid --${name} "${String(value)}": expected a number greater than 0 and at most ${max}`,
    );
  }
  return n;
}

export function positiveInt(raw: RawOptions, name: string, fallback: number, max: number): number {
  const n = positiveNumber(raw, name, fallback, max);
  if (!Number.isInteger(n))
    throw new BadInputError(`invalid --${name} "${String(raw[name])}": expected a whole number from 1 to ${max}`);
  return n;
}

export interface WaitOptions {
  maxWaitMinutes: number;
  healthAttempts: number;
}

export function parseWaitOptions(raw: RawOptions): WaitOptions {
  return {
    maxWaitMinutes: positiveNumber(raw, "max-wait-minutes", 45, 24 * 60),
    healthAttempts: positiveInt(raw, "health-attempts", 20, 1000),
  };
}
