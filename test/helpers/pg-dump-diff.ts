/**
 * Comparing two databases the way an SRE would: `pg_dump` of each (plain SQL, owners and
 * privileges included) and the lines one has that the other lacks, order aside.
 */
import { $ } from "zx";
import type { LocalPostgres } from "../../runbooks/postgres/cluster.ts";

/**
 * `pg_dump` of `database` as plain SQL, with owners, privileges, large objects and comments; on
 * a server of ours, or at a libpq address (`{ PGHOST: <socket dir>, PGPORT, PGUSER }`).
 */
export async function dumpText(
  server: LocalPostgres | { binDir: string; env: Record<string, string> },
  database: string,
): Promise<string> {
  const env = { ...process.env, ...(typeof server.env === "function" ? server.env(database) : server.env) };
  return (await $({ env, quiet: true })`${server.binDir}/pg_dump --format=plain ${database}`).stdout;
}

export interface LineDifference {
  /** Lines of the first dump the second lacks (each as often as it is missing). */
  onlyInFirst: string[];
  /** Lines of the second dump the first lacks. */
  onlyInSecond: string[];
}

/** Pure: the multiset difference of two texts' lines. */
export function lineDifference(first: string, second: string): LineDifference {
  const count = new Map<string, number>();
  for (const l of first.split("\n")) count.set(l, (count.get(l) ?? 0) + 1);
  const onlyInSecond: string[] = [];
  for (const l of second.split("\n")) {
    const n = count.get(l) ?? 0;
    if (n > 0) count.set(l, n - 1);
    else onlyInSecond.push(l);
  }
  const onlyInFirst = [...count.entries()].flatMap(([l, n]) => Array<string>(n).fill(l));
  return { onlyInFirst: onlyInFirst.sort(), onlyInSecond: onlyInSecond.sort() };
}

/**
 * Pure: the same difference with each line's variable part (a random key, a timestamp) masked by
 * `masks`, so that "PostgreSQL's own difference" and "ours" compare as kinds of line.
 */
export function maskLines(lines: string[], masks: [RegExp, string][]): string[] {
  return lines.map((l) => masks.reduce((s, [re, by]) => s.replace(re, by), l)).sort();
}
