/**
 * `npm run bench [-- --quick | --size 2GiB | --reps 5 | --only floor,verify]`
 *
 * One run, every path side by side on the same seeded database: the floor (tar/untar,
 * pg_basebackup), the plan's logical pipeline vs ours, PITR, integrity checks, runbook overhead
 * and the drill. Results go to rehearsal/bench/results/<name>.json and, for a full run, the table in
 * rehearsal/bench/README.md. Everything it starts (PostgreSQL, moto, proxies, temp dirs) is stopped and
 * removed on exit, also on failure or Ctrl-C.
 */
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { serverVersion, thisMachine } from "./machine.ts";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseBenchArgs, formatBytes, type BenchOptions, type SuiteId } from "./options.ts";
import type { Progress } from "./harness.ts";
import { renderMarkdown, mergeIntoReadme, type BenchResults, type SuiteResult } from "./bench-results.ts";
import { SUITE_RUNNERS, type BenchContext } from "./suites.ts";
import { runScaling } from "./scaling.ts";
import { mergeScaling, renderScaling, type ScalingResults } from "./scaling-report.ts";

const HERE = dirname(fileURLToPath(import.meta.url));

const HELP = `npm run bench -- [options]

  --quick            tiny dataset, one repetition: proves every path works (seconds)
  --size <size>      seeded database size on disk, e.g. 1GiB (default), 512MiB, 2g
  --reps <n>         interleaved repetitions per case, median reported (default 3)
  --only <ids>       suites to run: floor, logical, pitr, verify, failover, drill (default all)
  --name <name>      results file rehearsal/bench/results/<name>.json (default full / quick)
  --results-dir <d>  write results there instead (the README is then left alone)
  --readme           also rewrite the table in rehearsal/bench/README.md
  --scaling          instead: the paths and the drill at several sizes (growth per path, PITR
                     against untar + redo, the drill's estimate ÷ achieved) → results/scaling.json
  --sizes <list>     sizes for --scaling (default 0.1GiB,0.5GiB,2GiB)
`;

const SUITE_TITLES: Record<SuiteId, string> = {
  floor: "2. The floor: tar / untar of the stopped data directory, pg_basebackup",
  logical: "1. Logical backup + restore: the plan's pipeline vs ours",
  pitr: "3. Point-in-time recovery (pgBackRest): restore + WAL replay + verify, ready for writes",
  verify: "4. verify-backup integrity checks: anti-joins vs the plan's NOT IN",
  failover: "5. Runbook overhead: region-failover on moto behind the delaying proxy",
  drill: "6. The drill (npm run drill) end to end",
};

/**
 * The order suites run in: the floor first, since every other path is reported against it;
 * verify before pitr, since the PITR setup adds write traffic to the seeded database.
 */
const ORDER: SuiteId[] = ["floor", "logical", "verify", "pitr", "failover", "drill"];

function progressPrinter(suite: SuiteId): Progress {
  return ({ label, rep, reps, sample, error }) => {
    const head = `[${suite} ${rep}/${reps}] ${label}`;
    if (error) process.stderr.write(`${head} … failed: ${error.message.split("\n")[0]}\n`);
    else if (sample) {
      const mbs = sample.bytes ? ` (${(sample.bytes / 1e6 / sample.seconds).toFixed(0)} MB/s)` : "";
      process.stderr.write(`${head} … ${sample.seconds.toFixed(2)} s${mbs}\n`);
    } else process.stderr.write(`${head} …\n`);
  };
}

async function postgresVersion(ctx: BenchContext): Promise<string> {
  return ctx.dataset ? serverVersion(ctx.dataset.server) : "PostgreSQL (not started)";
}

export async function runBench(options: BenchOptions): Promise<BenchResults> {
  const startedAt = new Date().toISOString();
  const workDir = await mkdtemp(join(tmpdir(), "eventchain-bench-work-"));
  // The postgres user (pgBackRest, restored clusters) must reach its own directories inside.
  await chmod(workDir, 0o711);
  const ctx: BenchContext = {
    options,
    workDir,
    cleanups: [],
    log: (m) => process.stderr.write(`${m}\n`),
    done: new Map(),
  };
  const results: BenchResults = {
    name: options.name,
    startedAt,
    finishedAt: startedAt,
    machine: thisMachine(),
    options: { quick: options.quick, sizeBytes: options.sizeBytes, reps: options.reps },
    suites: [],
  };
  const onSignal = () => {
    ctx.log("interrupted: cleaning up");
    void cleanup(ctx, workDir).finally(() => process.exit(130));
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  try {
    ctx.log(`seeding an EventChain database of about ${formatBytes(options.sizeBytes)} …`);
    const { createDataset } = await import("./dataset.ts");
    ctx.dataset = await createDataset(options.sizeBytes);
    ctx.cleanups.push(() => ctx.dataset!.server.destroy());
    const ds = ctx.dataset;
    results.dataset = {
      bytesOnDisk: ds.dataDirBytes,
      dbBytes: ds.dbBytes,
      walBytes: ds.walBytes,
      scale: ds.scale,
      rows: ds.rows,
      seedSeconds: ds.seedSeconds,
    };
    results.machine.postgres = await postgresVersion(ctx);
    ctx.log(
      `seeded ${formatBytes(ctx.dataset.dataDirBytes)} (database ${formatBytes(ctx.dataset.dbBytes)}) in ${ctx.dataset.seedSeconds.toFixed(1)} s`,
    );
    for (const id of ORDER.filter((s) => options.only.includes(s))) {
      ctx.log(`── ${SUITE_TITLES[id]}`);
      let suite: SuiteResult;
      const t0 = Date.now();
      try {
        suite = await SUITE_RUNNERS[id](ctx, progressPrinter(id));
      } catch (error) {
        suite = { id, title: "", cases: [], ratios: [], notes: [], skipped: `failed: ${(error as Error).message}` };
      }
      suite.title = SUITE_TITLES[id];
      suite.wallSeconds = (Date.now() - t0) / 1000;
      if (suite.skipped) ctx.log(`   not run: ${suite.skipped}`);
      for (const r of suite.ratios) {
        ctx.log(
          `   ${r.label}: ${r.value === null ? "–" : r.value.toFixed(2)}${r.unit === "×" ? "×" : ` ${r.unit}`}${r.met === null ? "" : r.met ? " (target met)" : " (target MISSED)"}`,
        );
      }
      results.suites.push(suite);
      ctx.done!.set(id, suite);
    }
  } finally {
    process.removeListener("SIGINT", onSignal);
    process.removeListener("SIGTERM", onSignal);
    await cleanup(ctx, workDir);
  }
  results.finishedAt = new Date().toISOString();
  return results;
}

async function cleanup(ctx: BenchContext, workDir: string): Promise<void> {
  while (ctx.cleanups.length > 0) {
    const fn = ctx.cleanups.pop()!;
    try {
      await fn();
    } catch (error) {
      ctx.log(`cleanup step failed (continuing): ${(error as Error).message}`);
    }
  }
  await rm(workDir, { recursive: true, force: true });
}

export async function writeResults(results: BenchResults, options: BenchOptions): Promise<string> {
  await mkdir(options.resultsDir, { recursive: true });
  const file = join(options.resultsDir, `${options.name}.json`);
  await writeFile(file, `${JSON.stringify(results, null, 2)}\n`);
  if (options.readme) {
    const readmePath = join(HERE, "README.md");
    const readme = await readFile(readmePath, "utf8").catch(() => "# Benchmarks\n");
    await writeFile(readmePath, mergeIntoReadme(readme, renderMarkdown(results)));
  }
  return file;
}

/** The three-size run: results/<name>.json, the drills' reports beside it, the README section. */
async function scalingMain(options: BenchOptions): Promise<number> {
  const workDir = await mkdtemp(join(tmpdir(), "eventchain-bench-work-"));
  await chmod(workDir, 0o711);
  const ctx: BenchContext = { options, workDir, cleanups: [], log: (m) => process.stderr.write(`${m}\n`) };
  const onSignal = () => void cleanup(ctx, workDir).finally(() => process.exit(130));
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  let results: ScalingResults;
  try {
    results = await runScaling(ctx, options.sizes, progressPrinter("drill"), {
      reportsDir: join(options.resultsDir, `${options.name}-drills`),
      // A full run records each drill in the committed calibration before the next (never --quick).
      record: !options.quick,
      // Written as it goes: a run cut short keeps every size and drill it finished.
      partial: async (r) => {
        await mkdir(options.resultsDir, { recursive: true });
        await writeFile(join(options.resultsDir, `${options.name}.partial.json`), `${JSON.stringify(r, null, 2)}\n`);
      },
    });
  } finally {
    process.removeListener("SIGINT", onSignal);
    process.removeListener("SIGTERM", onSignal);
    await cleanup(ctx, workDir);
  }
  await mkdir(options.resultsDir, { recursive: true });
  const file = join(options.resultsDir, `${options.name}.json`);
  await writeFile(file, `${JSON.stringify(results, null, 2)}\n`);
  const section = renderScaling(results);
  if (options.readme) {
    const readmePath = join(HERE, "README.md");
    await writeFile(readmePath, mergeScaling(await readFile(readmePath, "utf8"), section));
  }
  process.stdout.write(section);
  process.stderr.write(`results: ${file}${options.readme ? " (and rehearsal/bench/README.md)" : ""}\n`);
  const failed = results.sizes.some((s) => s.cases.some((c) => c.error) || s.drill?.error);
  return failed ? 1 : 0;
}

async function main(): Promise<number> {
  let options: BenchOptions;
  try {
    options = parseBenchArgs(process.argv.slice(2), join(HERE, "results"));
  } catch (error) {
    process.stderr.write(`bench: ${(error as Error).message}\n\n${HELP}`);
    return 2;
  }
  if (options.help) {
    process.stdout.write(HELP);
    return 0;
  }
  if (options.scaling) return scalingMain(options);
  const results = await runBench(options);
  const file = await writeResults(results, options);
  process.stdout.write(renderMarkdown(results));
  process.stderr.write(`results: ${file}${options.readme ? " (and rehearsal/bench/README.md)" : ""}\n`);
  const failedSuites = results.suites.filter((s) => s.skipped?.startsWith("failed") || s.cases.some((c) => c.error));
  return failedSuites.length > 0 ? 1 : 0;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main().then(
    (code) => process.exit(code),
    (error) => {
      process.stderr.write(`bench failed: ${(error as Error).stack ?? error}\n`);
      process.exit(1);
    },
  );
}
