/**
 * Command-line options of `npm run bench`, validated by pure functions with exact messages.
 *
 *   --quick            tiny dataset, one repetition per case: proves every path works (seconds)
 *   --size <bytes>     target on-disk size of the seeded database, e.g. 1GiB, 512MiB, 2g (default 1GiB)
 *   --reps <n>         repetitions per case, interleaved A/B/A/B (default 3; the median is reported)
 *   --only <ids>       comma-separated suites to run (default: all)
 *   --name <name>      results file name: rehearsal/bench/results/<name>.json (default: full, or quick)
 *   --results-dir <d>  where results go (default rehearsal/bench/results)
 *   --readme           rewrite the results table in rehearsal/bench/README.md (always done by a full run
 *                      into the default results dir)
 *   --scaling          the paths and the drill at several sizes instead (growth, PITR floor with
 *                      redo, the drill's estimate ÷ achieved); results rehearsal/bench/results/scaling.json
 *   --sizes <list>     sizes of --scaling, e.g. 0.1GiB,0.5GiB,2GiB (the default)
 *   --drills <n>       drills per size of --scaling (default 4: 12 drills over three sizes)
 *   --help
 */
import { parseArgv } from "zx";

export const SUITES = ["floor", "logical", "pitr", "verify", "failover", "drill"] as const;
export type SuiteId = (typeof SUITES)[number];

export interface BenchOptions {
  quick: boolean;
  /** Target on-disk size of the seeded database, in bytes. */
  sizeBytes: number;
  reps: number;
  only: SuiteId[];
  name: string;
  resultsDir: string;
  readme: boolean;
  /** The three-size run instead of the suites. */
  scaling: boolean;
  /** Its sizes, in bytes, ascending. */
  sizes: number[];
  /** Drills per size of --scaling, each setting its achieved RTO beside the range it printed. */
  drills: number;
  help: boolean;
}

export const DEFAULT_SCALING_SIZES = "0.1GiB,0.5GiB,2GiB";
export const QUICK_SCALING_SIZES = "16MiB,24MiB,32MiB";

/** Parses `--sizes`: two to five sizes, each as `--size` takes them, ascending. */
export function parseSizes(value: string): number[] {
  const sizes = value
    .split(",")
    .map((x) => x.trim())
    .filter(Boolean)
    .map(parseSize);
  if (sizes.length < 2 || sizes.length > 5)
    throw new Error(
      `--sizes "${value}" is not allowed: expected 2 to 5 sizes separated by commas, e.g. ${DEFAULT_SCALING_SIZES}`,
    );
  if (sizes.some((x, i) => i > 0 && x <= sizes[i - 1]!))
    throw new Error(`--sizes "${value}" is not allowed: expected ascending sizes, each larger than the one before`);
  return sizes;
}

const UNITS: Record<string, number> = {
  "": 1,
  b: 1,
  k: 1024,
  kb: 1000,
  kib: 1024,
  m: 1024 ** 2,
  mb: 1000 ** 2,
  mib: 1024 ** 2,
  g: 1024 ** 3,
  gb: 1000 ** 3,
  gib: 1024 ** 3,
};

/** Smallest and largest sizes the bench accepts (16 MiB keeps every path meaningful; 64 GiB the disk). */
export const MIN_SIZE = 16 * 1024 ** 2;
export const MAX_SIZE = 64 * 1024 ** 3;
export const DEFAULT_SIZE = 1024 ** 3;
export const QUICK_SIZE = 24 * 1024 ** 2;

/**
 * Parses a size such as `1GiB`, `512MiB`, `0.5g` or `300MB` into bytes.
 * @throws Error naming the value and what is allowed.
 */
export function parseSize(value: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(value);
  const unit = m?.[2]?.toLowerCase();
  if (!m || unit === undefined || !(unit in UNITS)) {
    throw new Error(
      `--size "${value}" is not a size: expected a number with an optional unit (B, KiB, MiB, GiB, KB, MB, GB, k, m, g), e.g. 1GiB`,
    );
  }
  const bytes = Math.round(Number(m[1]) * UNITS[unit]!);
  if (bytes < MIN_SIZE || bytes > MAX_SIZE) {
    throw new Error(`--size "${value}" is ${formatBytes(bytes)}: allowed between 16 MiB and 64 GiB`);
  }
  return bytes;
}

/** 1536 → "1.5 KiB"; used in messages and the report. */
export function formatBytes(bytes: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let v = bytes;
  let i = 0;
  while (Math.abs(v) >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${Number.isInteger(v) ? v : v.toFixed(1)} ${units[i]}`;
}

/** Parses `--reps`: an integer from 1 to 20. */
export function parseReps(value: unknown): number {
  const n = typeof value === "number" ? value : Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 20) {
    throw new Error(`--reps "${String(value)}" is not allowed: expected an integer from 1 to 20`);
  }
  return n;
}

/** Parses `--drills`: an integer from 0 (the paths only) to 10 (drills per size of --scaling). */
export function parseDrills(value: unknown): number {
  const n = typeof value === "number" ? value : Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 10)
    throw new Error(`--drills "${String(value)}" is not allowed: expected an integer from 0 to 10 (drills per size)`);
  return n;
}

/** Parses `--only a,b`: each must be a known suite. */
export function parseOnly(value: unknown): SuiteId[] {
  if (value === undefined || value === true || value === "") return [...SUITES];
  const ids = String(value)
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  for (const id of ids) {
    if (!(SUITES as readonly string[]).includes(id)) {
      throw new Error(`--only "${id}" is not a suite: expected one or more of ${SUITES.join(", ")}`);
    }
  }
  return ids as SuiteId[];
}

/** Parses `--name`: a file-name-safe word (it becomes rehearsal/bench/results/<name>.json). */
export function parseName(value: string): string {
  if (!/^[a-z0-9][a-z0-9._-]{0,63}$/i.test(value)) {
    throw new Error(`--name "${value}" is not allowed: expected letters, digits, ".", "_" or "-" (at most 64)`);
  }
  return value;
}

const KNOWN = new Set([
  "quick",
  "size",
  "reps",
  "only",
  "name",
  "results-dir",
  "readme",
  "scaling",
  "sizes",
  "drills",
  "help",
  "h",
  "_",
]);

/** Parses and validates the whole command line; throws on the first bad value, naming it. */
export function parseBenchArgs(args: string[], defaultResultsDir: string): BenchOptions {
  const a = parseArgv(args, {
    boolean: ["quick", "readme", "help", "scaling"],
    string: ["size", "reps", "only", "name", "results-dir", "sizes", "drills"],
    alias: { h: "help" },
  });
  for (const key of Object.keys(a)) {
    if (!KNOWN.has(key))
      throw new Error(
        `unknown option --${key}: expected one of --quick, --size, --reps, --only, --name, --results-dir, --readme, --scaling, --sizes, --drills, --help`,
      );
  }
  if (a._.length > 0) throw new Error(`unexpected argument "${a._[0]}": the bench takes options only (see --help)`);
  const quick = Boolean(a.quick);
  const sizeBytes = a.size !== undefined ? parseSize(a.size) : quick ? QUICK_SIZE : DEFAULT_SIZE;
  const reps = a.reps !== undefined ? parseReps(a.reps) : quick ? 1 : 3;
  const scaling = Boolean(a.scaling);
  if (a.sizes !== undefined && !scaling) throw new Error("--sizes goes with --scaling (the three-size run)");
  if (a.drills !== undefined && !scaling) throw new Error("--drills goes with --scaling (the three-size run)");
  const name = parseName(a.name ?? (scaling ? (quick ? "scaling-quick" : "scaling") : quick ? "quick" : "full"));
  return {
    quick,
    sizeBytes,
    reps,
    only: parseOnly(a.only),
    name,
    resultsDir: a["results-dir"] ?? defaultResultsDir,
    readme: Boolean(a.readme) || (!quick && a["results-dir"] === undefined),
    scaling,
    sizes: scaling ? parseSizes(a.sizes ?? (quick ? QUICK_SCALING_SIZES : DEFAULT_SCALING_SIZES)) : [],
    drills: a.drills !== undefined ? parseDrills(a.drills) : quick ? 1 : 4,
    help: Boolean(a.help),
  };
}
