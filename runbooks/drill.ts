/**
 * `npm run drill` — a full backup-and-recovery drill on this machine, no AWS account needed.
 *
 * Starts throwaway PostgreSQL and Redis on loopback and the S3 emulator (moto) on loopback;
 * creates and seeds the EventChain schema; turns on continuous archiving (pgBackRest); takes a
 * logical backup (backup-database runbook) and a base backup; keeps writing while it records a
 * target time T; simulates the disaster; recovers with point-in-time-restore --engine
 * pgbackrest; verifies with verify-backup (the logical backup in a scratch database, and the
 * recovered database in place); checks that every row committed up to T is back and none after;
 * and prints the recovery report with achieved RTO/RPO against the primary database's tier.
 * Exit 0 only when the objectives are met and every verification passed.
 */
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { runDrill, type DrillOptions } from "./drill/run.ts";
import { validateScale } from "./local/eventchain-schema.ts";

export const DRILL_USAGE = `npm run drill -- [options]

  --scale <n>          data size (1 ≈ 13 MB on disk; default 1)
  --disaster <kind>    delete-datadir (default) or drop-table
  --keep               keep the servers running for inspection until Ctrl-C, then clean up
  --state-dir <dir>    where reports and journals go (default .drill)
  --json               print the drill report as JSON instead of Markdown
  --help               this text

Exit codes: 0 objectives met and verification passed · 1 a phase failed · 2 bad input ·
3 recovered and verified but an objective was missed · 130 interrupted.
`;

/** Parses the drill's arguments; @throws Error naming the bad value and what is allowed. */
export function parseDrillArgs(args: string[]): DrillOptions & { help: boolean } {
  const { values } = parseArgs({
    args,
    strict: true,
    allowPositionals: false,
    options: {
      scale: { type: "string" },
      disaster: { type: "string" },
      keep: { type: "boolean" },
      "state-dir": { type: "string" },
      json: { type: "boolean" },
      help: { type: "boolean" },
    },
  });
  const scale = values.scale === undefined ? 1 : Number(values.scale);
  validateScale(scale);
  const disaster = values.disaster ?? "delete-datadir";
  if (disaster !== "delete-datadir" && disaster !== "drop-table") {
    throw new Error(`invalid --disaster "${disaster}": expected delete-datadir or drop-table`);
  }
  return {
    scale,
    disaster,
    keep: values.keep === true,
    stateDir: resolve(values["state-dir"] ?? ".drill"),
    json: values.json === true,
    help: values.help === true,
  };
}

async function cli(): Promise<number> {
  let options: ReturnType<typeof parseDrillArgs>;
  try {
    options = parseDrillArgs(process.argv.slice(2));
  } catch (error) {
    process.stderr.write(`bad input: ${(error as Error).message}\n\n${DRILL_USAGE}`);
    return 2;
  }
  if (options.help) {
    process.stdout.write(DRILL_USAGE);
    return 0;
  }
  const controller = new AbortController();
  let signals = 0;
  const onSignal = (sig: NodeJS.Signals) => {
    if (++signals > 1) process.exit(130);
    process.stderr.write(`\n${sig}: stopping the drill and cleaning up (press again to quit at once)\n`);
    controller.abort(new Error(`interrupted by ${sig}`));
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  const result = await runDrill({
    ...options,
    signal: controller.signal,
    log: (line) => process.stderr.write(line + "\n"),
  });
  process.stdout.write(options.json ? JSON.stringify(result.report, null, 2) + "\n" : result.markdown);
  if (result.reportPaths) process.stderr.write(`\nDrill report: ${result.reportPaths.markdown}\n`);
  if (result.cleanup) {
    if (!controller.signal.aborted) {
      process.stderr.write(
        '--keep: the servers stay up (see "Kept for inspection" in the report); press Ctrl-C to stop them and clean up\n',
      );
      await new Promise((resolve) => controller.signal.addEventListener("abort", resolve, { once: true }));
    }
    await result.cleanup();
  }
  return result.exitCode;
}

if (process.argv[1] && resolve(process.argv[1]) === new URL(import.meta.url).pathname) {
  process.exitCode = await cli();
}
