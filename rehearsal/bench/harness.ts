/**
 * The measuring loop: cases of one suite run interleaved (A, B, A, B, …) so that drift of a
 * shared machine (page cache, other tenants) falls on every case alike; the median of the
 * repetitions is reported. Knows nothing about PostgreSQL or AWS.
 */
import { performance } from "node:perf_hooks";

/** What a timed run reports besides its duration. */
export interface RunOutput {
  /** Bytes the run moved (for MB/s); omit when throughput means nothing for the case. */
  bytes?: number;
  /** Seconds to report instead of the wall time of `run` (when the case times itself). */
  seconds?: number;
  /** Seconds per phase inside the run (reported as medians and shares). */
  phases?: Record<string, number>;
  /** Other numbers worth keeping (row counts, WAL bytes, …). */
  metrics?: Record<string, number>;
}

export interface Case {
  /** Stable id used in ratios and the results file, e.g. "plan.backup". */
  id: string;
  /** Human label for the table. */
  label: string;
  /** Id of the floor case this path is reported as a multiple of ("floor.tar" or "floor.untar"). */
  floor?: string;
  /** Untimed work before each run (drop the scratch database, empty the target dir, …). */
  prepare?: () => Promise<void>;
  /** The timed work. */
  run: () => Promise<RunOutput | void>;
  /** Untimed work after each run; runs even when `run` failed. */
  cleanup?: () => Promise<void>;
}

export interface Sample extends RunOutput {
  seconds: number;
}

export interface CaseResult {
  id: string;
  label: string;
  floor?: string;
  samples: Sample[];
  /** Median of the samples' seconds. */
  seconds: number;
  /** Median bytes (they rarely differ between runs). */
  bytes?: number;
  /** bytes / seconds, in MB/s (10^6 bytes per second). */
  mbPerSec?: number;
  phases?: Record<string, number>;
  metrics?: Record<string, number>;
  /** Set when every repetition failed; the message of the last failure. */
  error?: string;
}

export type Progress = (event: {
  caseId: string;
  label: string;
  rep: number;
  reps: number;
  sample?: Sample;
  error?: Error;
}) => void;

/** Median of a non-empty list; the mean of the two middle values for an even count. */
export function median(values: readonly number[]): number {
  if (values.length === 0) throw new Error("median of an empty list: at least one value is needed");
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

function medianRecord(records: (Record<string, number> | undefined)[]): Record<string, number> | undefined {
  const present = records.filter((r): r is Record<string, number> => r !== undefined);
  if (present.length === 0) return undefined;
  const keys = [...new Set(present.flatMap((r) => Object.keys(r)))];
  return Object.fromEntries(
    keys.map((k) => [k, median(present.map((r) => r[k]).filter((v): v is number => typeof v === "number"))]),
  );
}

/** Summarises the samples of one case. */
export function summarise(id: string, label: string, samples: Sample[], error?: string): CaseResult {
  if (samples.length === 0) return { id, label, samples, seconds: Number.NaN, error: error ?? "no sample" };
  const seconds = median(samples.map((s) => s.seconds));
  const withBytes = samples.filter((s) => typeof s.bytes === "number").map((s) => s.bytes!);
  const bytes = withBytes.length > 0 ? median(withBytes) : undefined;
  const result: CaseResult = { id, label, samples, seconds };
  if (bytes !== undefined) {
    result.bytes = bytes;
    result.mbPerSec = bytes / 1e6 / seconds;
  }
  const phases = medianRecord(samples.map((s) => s.phases));
  if (phases) result.phases = phases;
  const metrics = medianRecord(samples.map((s) => s.metrics));
  if (metrics) result.metrics = metrics;
  return result;
}

/**
 * Runs `cases` `reps` times in the order A, B, …, A, B, … and returns one result per case.
 * A failed repetition is reported through `progress` and kept out of the median; a case whose
 * every repetition failed carries `error`. `cleanup` runs after every repetition, even on failure.
 */
export async function interleave(
  cases: readonly Case[],
  reps: number,
  progress: Progress = () => {},
): Promise<CaseResult[]> {
  if (!Number.isInteger(reps) || reps < 1)
    throw new Error(`reps ${reps} is not allowed: expected an integer of at least 1`);
  const samples = new Map<string, Sample[]>(cases.map((c) => [c.id, []]));
  const errors = new Map<string, string>();
  for (let rep = 1; rep <= reps; rep++) {
    for (const c of cases) {
      progress({ caseId: c.id, label: c.label, rep, reps });
      try {
        if (c.prepare) await c.prepare();
        const t0 = performance.now();
        const out = (await c.run()) ?? {};
        const wall = (performance.now() - t0) / 1000;
        const sample: Sample = { ...out, seconds: out.seconds ?? wall };
        samples.get(c.id)!.push(sample);
        progress({ caseId: c.id, label: c.label, rep, reps, sample });
      } catch (err) {
        const e = err instanceof Error ? err : new Error(String(err));
        errors.set(c.id, e.message);
        progress({ caseId: c.id, label: c.label, rep, reps, error: e });
      } finally {
        if (c.cleanup) await c.cleanup();
      }
    }
  }
  return cases.map((c) => {
    const s = samples.get(c.id)!;
    const r = summarise(c.id, c.label, s, s.length === 0 ? errors.get(c.id) : undefined);
    return c.floor ? { ...r, floor: c.floor } : r;
  });
}

/** Times one async function (for setup steps that are reported but not compared). */
export async function timed<T>(fn: () => Promise<T>): Promise<{ value: T; seconds: number }> {
  const t0 = performance.now();
  const value = await fn();
  return { value, seconds: (performance.now() - t0) / 1000 };
}
