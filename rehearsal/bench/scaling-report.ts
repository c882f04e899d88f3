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
  { id: "pgbackrest.backup", label: "pgBackRest full backup (posix, lz4, 2 processes; one sample per size)" },
  { id: "ours.backup", label: "our logical backup (pg_dump -Fc → S3 on moto, read back and verified)" },
  { id: "pitr.ready", label: "PITR to ready for writes (restore, replay, promote, first write)" },
  { id: "pitr.verified", label: "PITR to verified (+ witnesses and integrity checks)" },
  { id: "verify.side_by_side", label: "verify-backup's integrity checks now: two at a time, each query once" },
  { id: "verify.one_by_one", label: "the same checks one at a time, each query once" },
  { id: "verify.before", label: "the checks as before: one at a time, the plan's three run again" },
  { id: "drill.rto", label: "npm run drill: incident → verified" },
] as const;
export type ScalingPathId = (typeof SCALING_PATHS)[number]["id"];

export interface DrillAtSize {
  scale: number;
  runId: string | null;
  error: string | null;
  metrics: Record<string, number>;
}

export interface SizeResult {
  targetBytes: number;
  dataset: { dbBytes: number; dataDirBytes: number; scale: number; seedSeconds: number };
  /** WAL replayed by each PITR repetition (from the base backup's end to T). */
  pitrWalBytes: number;
  cases: CaseResult[];
  drill: DrillAtSize | null;
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
  if (path === "drill.rto") return size.drill?.metrics.rtoAchieved ?? null;
  const metric = path === "pitr.ready" ? "readyForWritesSeconds" : path === "pitr.verified" ? "verifiedSeconds" : null;
  const c = size.cases.find((x) => x.id === (metric ? "ours.pitr_posix" : path));
  if (!c || c.error || !Number.isFinite(c.seconds)) return null;
  return metric ? (c.metrics?.[metric] ?? null) : c.seconds;
}

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

/** Pure: PITR against untar + PostgreSQL's logged redo of the same WAL, at one size. */
export function pitrFloor(s: SizeResult): {
  untar: number | null;
  redo: number | null;
  floor: number | null;
  ready: number | null;
  verified: number | null;
  readyRatio: number | null;
  verifiedRatio: number | null;
  verifyShare: number | null;
} {
  const untar = secondsOf(s, "floor.untar");
  const pitr = s.cases.find((c) => c.id === "ours.pitr_posix");
  const redo = pitr?.metrics?.redoSeconds ?? null;
  const ready = secondsOf(s, "pitr.ready");
  const verified = secondsOf(s, "pitr.verified");
  const floor = untar !== null && redo !== null ? untar + redo : null;
  const div = (a: number | null, b: number | null) => (a !== null && b ? a / b : null);
  return {
    untar,
    redo,
    floor,
    ready,
    verified,
    readyRatio: div(ready, floor),
    verifiedRatio: div(verified, floor),
    verifyShare: pitr?.phases?.verify !== undefined && verified ? pitr.phases.verify / verified : null,
  };
}

const f = (n: number | null | undefined, digits = 2) =>
  n === null || n === undefined || !Number.isFinite(n) ? "–" : n >= 100 ? n.toFixed(0) : n.toFixed(digits);
const inTarget = (r: number | null | undefined) =>
  r === null || r === undefined ? "–" : r >= 0.75 && r <= 1.25 ? "yes" : "**no**";

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
    "#### PITR against untar + PostgreSQL's own redo of the same WAL",
    "",
    "| database | WAL replayed | untar | redo (logged) | floor | ready for writes | × floor | verified | × floor (target ≤ 1.25) | verify's share |",
    "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
  );
  for (const [i, s] of r.sizes.entries()) {
    const p = pitrFloor(s);
    out.push(
      `| ${sizes[i]} | ${f(s.pitrWalBytes / 1e6, 0)} MB | ${f(p.untar)} s | ${f(p.redo)} s | ${f(p.floor)} s | ${f(p.ready)} s | ${f(p.readyRatio)}× | ${f(p.verified)} s | ${f(p.verifiedRatio)}×${p.verifiedRatio === null ? "" : p.verifiedRatio <= 1.25 ? "" : " (**missed**)"} | ${p.verifyShare === null ? "–" : `${(p.verifyShare * 100).toFixed(0)} %`} |`,
    );
  }
  out.push(
    "",
    "#### The drill's estimate, printed before its disaster, beside what it achieved",
    "",
    `Estimates from the figures in use when the bench ran: calibrated from ${r.calibrationRuns.length ? r.calibrationRuns.join(", ") : "no run (all assumed)"} (infra/posture/calibration.json), never from these runs.`,
    "",
    "| database (drill scale) | ready for writes: estimate / achieved | RTO (verified): estimate / achieved | ÷ | in 0.75–1.25 | RPO: estimate / achieved | ÷ | in 0.75–1.25 | commits lost / acknowledged |",
    "|---:|---:|---:|---:|:---:|---:|---:|:---:|---:|",
  );
  for (const s of r.sizes) {
    const d = s.drill;
    if (!d) continue;
    if (d.error) {
      out.push(`| scale ${d.scale} | failed: ${d.error.slice(0, 100)} | | | | | | | |`);
      continue;
    }
    const m = d.metrics;
    out.push(
      `| ${sizeLabel(m.databaseBytes ?? 0)} (${d.scale}) | ${f(m.readyEstimate)} / ${f(m.readyAchieved)} s | ${f(m.rtoEstimate)} / ${f(m.rtoAchieved)} s | ${f(m.rtoRatio)} | ${inTarget(m.rtoRatio)} | ${f(m.rpoEstimate)} / ${f(m.rpoAchieved)} s | ${f(m.rpoRatio)} | ${inTarget(m.rpoRatio)} | ${m.lost ?? "–"} / ${m.acknowledged ?? "–"} |`,
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
