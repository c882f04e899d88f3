/**
 * What the drill measured of each recovery phase, for its report and for calibration
 * (`npm run posture -- --calibrate`): read from the tools' own accounts — pgBackRest's log for
 * the restore and the archive-pushes, PostgreSQL's log for the redo — not from our stopwatch
 * around them. Parsers are pure.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";

/** Pure: an LSN such as `0/3000028` as a byte position. */
export function lsnBytes(lsn: string): bigint {
  const m = /^([0-9A-F]+)\/([0-9A-F]+)$/i.exec(lsn.trim());
  if (!m) throw new Error(`invalid LSN "${lsn}": expected <hex>/<hex>`);
  return (BigInt(`0x${m[1]}`) << 32n) + BigInt(`0x${m[2]}`);
}

/**
 * Pure: PostgreSQL's account of a recovery from its log (PG ≥ 15): the redo's elapsed seconds
 * ("redo done at … elapsed: N s") and the WAL it replayed ("redo starts at" → "redo done at").
 */
export function redoFromLog(log: string): { seconds: number; walBytes: number } | null {
  const start = /redo starts at ([0-9A-F]+\/[0-9A-F]+)/i.exec(log);
  const done = /redo done at ([0-9A-F]+\/[0-9A-F]+)[^\n]*elapsed: ([\d.]+) s/i.exec(log);
  if (!start || !done) return null;
  return { seconds: Number(done[2]), walBytes: Number(lsnBytes(done[1]!) - lsnBytes(start[1]!)) };
}

/** The recovered server's log (`postgres.log` in the directory the engine gave it). */
export function recoveredServerLog(baseDir: string): string {
  const file = join(baseDir, "postgres.log");
  return existsSync(file) ? readFileSync(file, "utf8") : "";
}

const median = (xs: number[]) => {
  if (!xs.length) return null;
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
export { median };
