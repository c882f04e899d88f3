/**
 * The three-size run's results (rehearsal/bench/results/scaling.json) and its Markdown (the "Growth with
 * size" section of rehearsal/bench/README.md): per size the paths' medians, the PITR floor with
 * PostgreSQL's own redo, and the drill's estimate beside what it achieved; per path its growth.
 * Pure.
 */
import type { Machine } from "./machine.ts";
import type { CaseResult } from "./harness.ts";
import { growthOf, type Growth } from "./growth.ts";

export const SCALING_PATHS = [
  { id: "floor.tar", label: "tar of the stopped data directory (floor)" },
  { id: "floor.untar", label: "untar (floor)" },
  { id: "pgbackrest.backup", label: "pgBackRest full backup (posix, lz4, a process per core; one sample per size)" },
  { id: "pitr.ready", label: "PITR to ready for writes, now (restore, replay to T held, promote, first write)" },
  {
    id: "pitr.verified",
    label: "PITR to verified, now (witnesses and integrity checks side by side with the promotion)",
  },
  { id: "pitr.before.ready", label: "PITR to ready for writes, as before (promoted at T, end-of-recovery checkpoint)" },
  { id: "pitr.before.verified", label: "PITR to verified, as before (checks after the first write)" },
  { id: "drill.rto", label: "npm run drill: incident → verified (median of the drills)" },
] as const;
export type ScalingPathId = (typeof SCALING_PATHS)[number]["id"];

export interface DrillAtSize {
  scale: number;
  runId: string | null;
  error: string | null;
  metrics: Record<string, number>;
}

export interface CompressionRow {
  compression: string;
  backupSeconds: number;
  repoBytes: number;
  restoreSeconds: number | null;
}

export interface SizeResult {
  targetBytes: number;
  dataset: { dbBytes: number; dataDirBytes: number; scale: number; seedSeconds: number };
  /** WAL replayed by each PITR repetition (from the base backup's end to T). */
  pitrWalBytes: number;
  cases: CaseResult[];
  /** The repository's compress-types side by side (absent in runs before it was measured). */
  compression?: CompressionRow[];
  /** The first drill (older runs had one per size). */
  drill: DrillAtSize | null;
  /** Every drill at this size. */
  drills?: DrillAtSize[];
}

export interface ScalingResults {
  name: string;
  startedAt: string;
  finishedAt: string;
  machine: Machine & { loadAverage: number[] };
  reps: number;
  /** The calibration the drills' estimates came from (runs recorded before this bench). */
  calibrationRuns: string[];
  sizes: SizeResult[];
}

/** Seconds of a path at one size (the median), or null when it failed or did not run. */
export function secondsOf(size: SizeResult, path: ScalingPathId): number | null {
  if (path === "drill.rto") {
    const rtos = drillsOf(size)
      .map((d) => d.metrics.rtoAchieved)
      .filter((x): x is number => typeof x === "number");
    return rtos.length ? median(rtos) : null;
  }
  const before = path.startsWith("pitr.before.");
  const metric = path.endsWith(".ready")
    ? "readyForWritesSeconds"
    : path.endsWith(".verified")
      ? "verifiedSeconds"
      : null;
  const id = metric ? (before ? "ours.pitr_posix_before" : "ours.pitr_posix") : path;
  const c = size.cases.find((x) => x.id === id);
  if (!c || c.error || !Number.isFinite(c.seconds)) return null;
  return metric ? (c.metrics?.[metric] ?? null) : c.seconds;
}

/** The drills of a size (older results: the one drill). */
export const drillsOf = (size: SizeResult): DrillAtSize[] => size.drills ?? (size.drill ? [size.drill] : []);

const median = (xs: number[]) => {
  const v = [...xs].sort((a, b) => a - b);
  const m = Math.floor(v.length / 2);
  return v.length % 2 ? v[m]! : (v[m - 1]! + v[m]!) / 2;
};

const gib = (bytes: number) => bytes / 1024 ** 3;
/** A database size as the tables print it: MiB under 1 GiB. */
const sizeLabel = (bytes: number) =>
  bytes < 1024 ** 3 ? `${(bytes / 1024 ** 2).toFixed(0)} MiB` : `${(bytes / 1024 ** 3).toFixed(2)} GiB`;

/** Pure: each path's growth over the sizes (database size in GiB as x). */
export function growthByPath(r: ScalingResults): (Growth & { id: ScalingPathId; label: string })[] {
  return SCALING_PATHS.map((p) => ({
    ...p,
    ...growthOf(
      r.sizes.flatMap((s) => {
        const seconds = secondsOf(s, p.id);
        return seconds === null ? [] : [{ gib: gib(s.dataset.dbBytes), seconds }];
      }),
    ),
  }));
}

/** Pure: PITR against untar + PostgreSQL's logged redo of the same WAL, at one size, now and before. */
export function pitrFloor(s: SizeResult): {
  untar: number | null;
  redo: number | null;
  redoBefore: number | null;
  floor: number | null;
  ready: number | null;
  verified: number | null;
  readyRatio: number | null;
  verifiedRatio: number | null;
  verifiedBeforeRatio: number | null;
  verifyShare: number | null;
  verifySeconds: number | null;
} {
  const untar = secondsOf(s, "floor.untar");
  const pitr = s.cases.find((c) => c.id === "ours.pitr_posix");
  const before = s.cases.find((c) => c.id === "ours.pitr_posix_before");
  const redo = pitr?.metrics?.redoSeconds ?? null;
  const ready = secondsOf(s, "pitr.ready");
  const verified = secondsOf(s, "pitr.verified");
  // The floor is the machine's: untar and the fastest redo of the same WAL either path logged.
  const redoBefore = before?.metrics?.redoSeconds ?? null;
  const floorRedo = redo !== null && redoBefore !== null ? Math.min(redo, redoBefore) : redo;
  const floor = untar !== null && floorRedo !== null ? untar + floorRedo : null;
  const div = (a: number | null, b: number | null) => (a !== null && b ? a / b : null);
  return {
    untar,
    redo,
    redoBefore,
    floor,
    ready,
    verified,
    readyRatio: div(ready, floor),
    verifiedRatio: div(verified, floor),
    verifiedBeforeRatio: div(secondsOf(s, "pitr.before.verified"), floor),
    // What verification adds to the verified total (it runs side by side with the promotion).
    verifyShare: verified !== null && ready !== null ? Math.max(0, verified - ready) / verified : null,
    verifySeconds: pitr?.metrics?.verifySeconds ?? null,
  };
}

/** Pure: every drill with a printed range: inside it or not, and the range's half-width ÷ its middle. */
export function rangeChecks(r: ScalingResults) {
  return r.sizes.flatMap((s) =>
    drillsOf(s).flatMap((d) => {
      const m = d.metrics;
      if (d.error || m.rangeLow === undefined || m.rangeHigh === undefined || m.rtoAchieved === undefined) return [];
      const middle = (m.rangeLow + m.rangeHigh) / 2;
      return [
        {
          dbBytes: m.databaseBytes ?? s.dataset.dbBytes,
          scale: d.scale,
          low: m.rangeLow,
          high: m.rangeHigh,
          point: m.rtoEstimate ?? null,
          achieved: m.rtoAchieved,
          inside: m.rtoAchieved >= m.rangeLow && m.rtoAchieved <= m.rangeHigh,
          halfWidth: middle > 0 ? (m.rangeHigh - m.rangeLow) / 2 / middle : null,
          loadPerCore: m.loadPerCore ?? null,
        },
      ];
    }),
  );
}

const f = (n: number | null | undefined, digits = 2) =>
  n === null || n === undefined || !Number.isFinite(n) ? "–" : n >= 100 ? n.toFixed(0) : n.toFixed(digits);

/** Pure: the README section. */
export function renderScaling(r: ScalingResults): string {
  const sizes = r.sizes.map((s) => sizeLabel(s.dataset.dbBytes));
  const out = [
    `Run \`${r.name}\` ${r.startedAt.slice(0, 16).replace("T", " ")} → ${r.finishedAt.slice(11, 16)} UTC: ${r.machine.cpus} × ${r.machine.cpuModel}, ${r.machine.memGiB} GiB RAM, Node ${r.machine.node}, ${r.machine.postgres}; median of ${r.reps} interleaved run(s) per size; load average at the start ${r.machine.loadAverage.map((x) => x.toFixed(1)).join(" / ")} (the machine is shared: other sessions ran their suites meanwhile).`,
    "",
    "#### Seconds per path at each size, and how they grow",
    "",
    `| path | ${sizes.join(" | ")} | s/GiB | power-fit exponent |`,
    `|---|${sizes.map(() => "---:").join("|")}|---:|---:|`,
  ];
  for (const g of growthByPath(r)) {
    const cells = r.sizes.map((s) => f(secondsOf(s, g.id)));
    out.push(`| ${g.label} | ${cells.join(" | ")} | ${f(g.secondsPerGiB)} | ${f(g.exponent)} |`);
  }
  out.push(
    "",
    "#### PITR against untar + PostgreSQL's own redo of the same WAL, now and as before",
    "",
    "| database | WAL replayed | untar | redo before → now (logged) | redo MB/s before → now | floor | ready for writes | × floor | verified | × floor (target ≤ 1.25) | as before: verified × floor | verification: its own time, what it adds (share, target ≤ 15 %) |",
    "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
  );
  for (const [i, s] of r.sizes.entries()) {
    const p = pitrFloor(s);
    const mbps = (sec: number | null) => (sec ? f(s.pitrWalBytes / 1e6 / sec, 0) : "–");
    out.push(
      `| ${sizes[i]} | ${f(s.pitrWalBytes / 1e6, 0)} MB | ${f(p.untar)} s | ${f(p.redoBefore)} → ${f(p.redo)} s | ${mbps(p.redoBefore)} → ${mbps(p.redo)} | ${f(p.floor)} s | ${f(p.ready)} s | ${f(p.readyRatio)}× | ${f(p.verified)} s | ${f(p.verifiedRatio)}×${p.verifiedRatio === null || p.verifiedRatio <= 1.25 ? "" : " (**missed**)"} | ${f(p.verifiedBeforeRatio)}× | ${f(p.verifySeconds)} s; +${p.verified !== null && p.ready !== null ? f(Math.max(0, p.verified - p.ready)) : "–"} s (${p.verifyShare === null ? "–" : `${(p.verifyShare * 100).toFixed(0)} %`}${p.verifyShare !== null && p.verifyShare > 0.15 ? ", **missed**" : ""}) |`,
    );
  }
  if (r.sizes.some((s) => s.compression?.length)) {
    out.push(
      "",
      "#### Repository compression: backup time and size against restore time",
      "",
      "| database | compress-type | full backup | repository | restore (median) | restore ÷ lz4's |",
      "|---:|---|---:|---:|---:|---:|",
    );
    for (const [i, s] of r.sizes.entries()) {
      const lz4 = s.compression?.find((c) => c.compression === "lz4")?.restoreSeconds ?? null;
      for (const c of s.compression ?? [])
        out.push(
          `| ${sizes[i]} | ${c.compression} | ${f(c.backupSeconds)} s | ${f(c.repoBytes / 1e6, 0)} MB | ${f(c.restoreSeconds)} s | ${c.restoreSeconds !== null && lz4 ? f(c.restoreSeconds / lz4) : "–"} |`,
        );
    }
  }
  const checks = rangeChecks(r);
  out.push(
    "",
    "#### The drills' RTO range, printed before each disaster, beside what each achieved",
    "",
    `Each drill's range came from the runs recorded before it (every drill is recorded with \`--calibrate\` before the next starts; ${r.calibrationRuns.length} runs in infra/posture/calibration.json, the latest ${r.calibrationRuns.slice(-3).join(", ") || "none"}), never from its own. **${checks.filter((c) => c.inside).length} of ${checks.length} drills achieved an RTO inside the range they printed** (target ≥ 11 of 12); widest range ±${f(Math.max(0, ...checks.map((c) => (c.halfWidth ?? 0) * 100)), 0)} % of its middle (target ≤ ±35 %).`,
    "",
    "| database (drill scale) | load per core | RTO range printed (point) | achieved | inside | ±% of middle | ready for writes: estimate / achieved | RPO: estimate / achieved | commits lost / acknowledged |",
    "|---:|---:|---:|---:|:---:|---:|---:|---:|---:|",
  );
  for (const s of r.sizes)
    for (const d of drillsOf(s)) {
      if (d.error) {
        out.push(`| scale ${d.scale} | | failed: ${d.error.slice(0, 100)} | | | | | | |`);
        continue;
      }
      const m = d.metrics;
      const inside =
        m.rangeLow === undefined || m.rtoAchieved === undefined
          ? "–"
          : m.rtoAchieved >= m.rangeLow && m.rtoAchieved <= m.rangeHigh!
            ? "yes"
            : "**no**";
      const half =
        m.rangeLow !== undefined && m.rangeHigh !== undefined
          ? ((m.rangeHigh - m.rangeLow) / (m.rangeHigh + m.rangeLow)) * 100
          : null;
      out.push(
        `| ${sizeLabel(m.databaseBytes ?? 0)} (${d.scale}) | ${f(m.loadPerCore)} | ${f(m.rangeLow)}–${f(m.rangeHigh)} s (${f(m.rtoEstimate)}) | ${f(m.rtoAchieved)} s | ${inside} | ${half === null ? "–" : `±${half.toFixed(0)} %`} | ${f(m.readyEstimate)} / ${f(m.readyAchieved)} s | ${f(m.rpoEstimate)} / ${f(m.rpoAchieved)} s | ${m.lost ?? "–"} / ${m.acknowledged ?? "–"} |`,
      );
    }
  return out.join("\n") + "\n";
}

export const SCALING_START = "<!-- bench:scaling:start -->";
export const SCALING_END = "<!-- bench:scaling:end -->";

/** Replaces the scaling section of `readme` (markers appended when absent). */
export function mergeScaling(readme: string, section: string): string {
  const block = `${SCALING_START}\n${section}${SCALING_END}`;
  const i = readme.indexOf(SCALING_START);
  const j = readme.indexOf(SCALING_END);
  if (i === -1 || j === -1 || j < i) return `${readme.trimEnd()}\n\n${block}\n`;
  return readme.slice(0, i) + block + readme.slice(j + SCALING_END.length);
}
