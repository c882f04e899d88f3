/**
 * Results of one bench run: the JSON shape written to rehearsal/bench/results/<name>.json, the ratios
 * and targets computed from it, and the Markdown table merged into rehearsal/bench/README.md.
 */
import type { Machine } from "./machine.ts";
import type { CaseResult } from "./harness.ts";
import type { SuiteId } from "./options.ts";

export interface Target {
  /** "<=" : the ratio must not exceed `value`; ">=" : it must reach it; "between": from `value` to `upper`. */
  op: "<=" | ">=" | "between";
  value: number;
  upper?: number;
}

export interface Ratio {
  id: string;
  label: string;
  /** null when a side is missing (failed or not run). */
  value: number | null;
  unit: "×" | "s" | "%" | "MB/s";
  target?: Target;
  /** true/false when there is a target and a value; null otherwise. */
  met: boolean | null;
  /** When the value is a bound rather than a measurement (e.g. NOT IN cut off by a timeout). */
  bound?: "lower" | "upper";
}

export interface SuiteResult {
  id: SuiteId;
  title: string;
  cases: CaseResult[];
  ratios: Ratio[];
  /** Measured facts and caveats worth a line in the report. */
  notes: string[];
  /** Why the suite did not run (missing dependency) or failed as a whole. */
  skipped?: string;
  /** Wall time of the whole suite, setup included. */
  wallSeconds?: number;
}

export interface BenchResults {
  name: string;
  startedAt: string;
  finishedAt: string;
  machine: Machine;
  options: { quick: boolean; sizeBytes: number; reps: number };
  dataset?: {
    bytesOnDisk: number;
    dbBytes: number;
    walBytes: number;
    scale: number;
    rows: Record<string, number>;
    seedSeconds: number;
  };
  suites: SuiteResult[];
}

/** Checks `value` against `target`; null when either is missing. */
export function meets(value: number | null, target: Target | undefined): boolean | null {
  if (value === null || target === undefined || !Number.isFinite(value)) return null;
  if (target.op === "between") return value >= target.value && value <= (target.upper ?? Infinity);
  return target.op === "<=" ? value <= target.value : value >= target.value;
}

/** A ratio `a.seconds / b.seconds` (how many times longer a takes than b), with its target. */
export function ratio(
  id: string,
  label: string,
  a: CaseResult | undefined,
  b: CaseResult | undefined,
  target?: Target,
  bound?: "lower" | "upper",
): Ratio {
  const ok = (c: CaseResult | undefined) =>
    c !== undefined && c.error === undefined && Number.isFinite(c.seconds) && c.seconds > 0;
  const value = ok(a) && ok(b) ? a!.seconds / b!.seconds : null;
  const r: Ratio = { id, label, value, unit: "×", met: meets(value, target) };
  if (target) r.target = target;
  // A lower bound can prove a ">=" target met but never an "<=" one (and vice versa).
  if (bound) {
    r.bound = bound;
    if (r.met === false && bound === "lower" && target?.op === ">=") r.met = null;
    if (r.met === true && bound === "lower" && target?.op === "<=") r.met = null;
  }
  return r;
}

/** A plain value (seconds, percent) with its target. */
export function value(id: string, label: string, v: number | null, unit: Ratio["unit"], target?: Target): Ratio {
  const r: Ratio = { id, label, value: v, unit, met: meets(v, target) };
  if (target) r.target = target;
  return r;
}

export function findCase(results: BenchResults, id: string): CaseResult | undefined {
  for (const s of results.suites) for (const c of s.cases) if (c.id === id) return c;
  return undefined;
}

/** Escapes a table cell (a "|" would end it). */
const cell = (text: string) => text.replace(/\|/g, "\\|");

const fmt = (n: number | undefined | null, digits = 2) =>
  n === undefined || n === null || !Number.isFinite(n) ? "–" : n >= 100 ? n.toFixed(0) : n.toFixed(digits);

function fmtRatio(r: Ratio): string {
  if (r.value === null) return "–";
  const prefix = r.bound === "lower" ? "> " : r.bound === "upper" ? "< " : "";
  if (r.unit === "%") return `${prefix}${fmt(r.value, 1)} %`;
  if (r.unit === "s") return `${prefix}${fmt(r.value, 1)} s`;
  if (r.unit === "MB/s") return `${prefix}${fmt(r.value, 0)} MB/s`;
  return `${prefix}${fmt(r.value, 2)}×`;
}

function fmtTarget(t: Target | undefined, unit: Ratio["unit"]): string {
  if (!t) return "";
  const u = unit === "×" ? "×" : ` ${unit}`;
  if (t.op === "between") return `${t.value}–${t.upper}${u}`;
  return `${t.op === "<=" ? "≤" : "≥"} ${t.value}${u}`;
}

/** The Markdown tables of a run: one per suite, then the targets. */
export function renderMarkdown(results: BenchResults): string {
  const out: string[] = [];
  const mib = (b: number) => (b / 1024 ** 2).toFixed(0);
  out.push(
    `Run \`${results.name}\` on ${results.finishedAt.slice(0, 16).replace("T", " ")} UTC: ${results.machine.cpus} × ${results.machine.cpuModel}, ` +
      `${results.machine.memGiB} GiB RAM, Node ${results.machine.node}, ${results.machine.postgres}; ` +
      `median of ${results.options.reps} interleaved run(s).`,
  );
  if (results.dataset) {
    const rows = Object.entries(results.dataset.rows)
      .map(([t, n]) => `${t} ${n.toLocaleString("en-US")}`)
      .join(", ");
    const ds = results.dataset;
    out.push(
      "",
      `Dataset: database ${mib(ds.dbBytes)} MiB (seeder scale ${ds.scale}: ${rows}); data directory ${mib(ds.bytesOnDisk)} MiB ` +
        `of which WAL ${mib(ds.walBytes)} MiB; seeded in ${fmt(ds.seedSeconds, 1)} s.`,
    );
  }
  for (const s of results.suites) {
    out.push("", `### ${s.title}`, "");
    if (s.skipped) {
      out.push(`Not run: ${s.skipped}`);
      continue;
    }
    out.push("| case | median | MB/s | × floor | runs (s) |", "|---|---:|---:|---:|---|");
    for (const c of s.cases) {
      const floor = c.floor ? findCase(results, c.floor) : undefined;
      const multiple =
        floor && !floor.error && !c.error ? `${fmt(c.seconds / floor.seconds)}× ${c.floor!.replace("floor.", "")}` : "";
      const runs = c.samples.map((x) => fmt(x.seconds)).join(", ");
      const med = c.error
        ? `failed: ${c.error.split("\n")[0]!.slice(0, 120)}`
        : c.metrics?.timedOut
          ? `> ${fmt(c.seconds)} s (timed out)`
          : `${fmt(c.seconds)} s`;
      out.push(`| ${cell(c.label)} | ${cell(med)} | ${fmt(c.mbPerSec, 1)} | ${multiple} | ${runs} |`);
      if (c.phases) {
        const total = Object.values(c.phases).reduce((a, b) => a + b, 0);
        const parts = Object.entries(c.phases).map(
          ([k, v]) => `${k} ${fmt(v)} s (${total > 0 ? ((100 * v) / total).toFixed(0) : "–"} %)`,
        );
        out.push(`| ↳ phases | ${cell(parts.join("; "))} | | | |`);
      }
    }
    if (s.ratios.length > 0) {
      out.push("", "| ratio | measured | target | met |", "|---|---:|---:|:---:|");
      for (const r of s.ratios) {
        const verdict = r.met === null ? (r.target ? "?" : "") : r.met ? "yes" : "**no**";
        out.push(`| ${cell(r.label)} | ${fmtRatio(r)} | ${fmtTarget(r.target, r.unit)} | ${verdict} |`);
      }
    }
    for (const n of s.notes) out.push("", `- ${n}`);
  }
  return out.join("\n") + "\n";
}

export const README_START = "<!-- bench:results:start -->";
export const README_END = "<!-- bench:results:end -->";

/** Replaces the text between the markers of `readme` with `table`; appends markers when absent. */
export function mergeIntoReadme(readme: string, table: string): string {
  const block = `${README_START}\n${table}${README_END}`;
  const i = readme.indexOf(README_START);
  const j = readme.indexOf(README_END);
  if (i === -1 || j === -1 || j < i) return `${readme.trimEnd()}\n\n${block}\n`;
  return readme.slice(0, i) + block + readme.slice(j + README_END.length);
}
