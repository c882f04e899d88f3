/**
 * `npm run drill` — a full backup-and-recovery drill on this machine, no AWS account needed.
 *
 * Starts throwaway PostgreSQL and Redis on loopback and the S3 emulator (moto); creates and
 * seeds the EventChain schema; turns on continuous archiving (pgBackRest) with the archive
 * settings of the stack config (`walArchiving`), and WAL streaming with pg_receivewal when they
 * say so; takes a logical backup (backup-database), a Redis backup (backup-redis) and a base
 * backup, and verifies the logical backup (verify-backup). Writers then sell tickets and record
 * every commit the server acknowledged; the drill prints its estimated RTO and RPO (from the
 * figures in use: measured by earlier drills where calibrated), and the disaster strikes:
 * - `crash` (default): the primary is killed and its data directory deleted, without warning —
 *   no check, no forced WAL switch. Recovery to the latest recoverable point.
 * - `bad-data`: `DELETE FROM payments` without WHERE; recovery to just before its transaction.
 * Recovery runs point-in-time-restore --engine pgbackrest (its own process, as an SRE runs it);
 * the recovered database is ready for writes, then verified (verify-backup, and its rows against
 * the writers' acknowledgements). The report sets achieved RTO and RPO beside the estimate and
 * the objective. Exit 0 only when the objectives are met and every verification passed.
 */
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { runDrill, type DrillOptions } from "./drill/run.ts";
import { validateScale } from "./local/eventchain-schema.ts";

export const DRILL_USAGE = `npm run drill -- [options]

  --scenario <kind>        crash (default): the primary crashes without warning, recovery to the
                           latest recoverable point; bad-data: DELETE FROM payments without WHERE,
                           recovery to just before it
  --scale <n>              data size (1 ≈ 13 MB on disk; default 1)
  --streaming <mode>       off or pg_receivewal (default: walArchiving.streaming of the stack config)
  --archive-timeout <s>    archive_timeout in seconds (default: walArchiving.archiveTimeoutSeconds, 60)
  --archive-delay <s>      fault: every archive-push after the base backup is <s> seconds late
  --write-seconds <s>      how long the writers sell before the disaster (default 20)
  --rate <n>               commits per second of all writers together (default 100)
  --writers <n>            writer connections (default 2)
  --keep                   keep the servers running for inspection until Ctrl-C, then clean up
  --state-dir <dir>        where reports and journals go (default .drill)
  --json                   print the drill report as JSON instead of Markdown
  --help                   this text

Exit codes: 0 objectives met and verification passed · 1 a phase failed · 2 bad input ·
3 recovered and verified but an objective was missed · 130 interrupted.
`;

/** A number option within bounds; @throws Error naming the option, the value and what is allowed. */
function bounded(
  name: string,
  raw: string | undefined,
  fallback: number,
  min: number,
  max: number,
  integer = false,
): number {
  if (raw === undefined) return fallback;
  const v = Number(raw);
  if (!Number.isFinite(v) || v < min || v > max || (integer && !Number.isInteger(v)))
    throw new Error(
      `invalid --${name} "${raw}": expected ${integer ? "an integer" : "a number"} from ${min} to ${max}`,
    );
  return v;
}

/** Parses the drill's arguments; @throws Error naming the bad value and what is allowed. */
export function parseDrillArgs(args: string[]): DrillOptions & { help: boolean } {
  const { values } = parseArgs({
    args,
    strict: true,
    allowPositionals: false,
    options: {
      scenario: { type: "string" },
      scale: { type: "string" },
      streaming: { type: "string" },
      "archive-timeout": { type: "string" },
      "archive-delay": { type: "string" },
      "write-seconds": { type: "string" },
      rate: { type: "string" },
      writers: { type: "string" },
      keep: { type: "boolean" },
      "state-dir": { type: "string" },
      json: { type: "boolean" },
      help: { type: "boolean" },
    },
  });
  const scale = values.scale === undefined ? 1 : Number(values.scale);
  validateScale(scale);
  const scenario = values.scenario ?? "crash";
  if (scenario !== "crash" && scenario !== "bad-data")
    throw new Error(`invalid --scenario "${scenario}": expected crash or bad-data`);
  const streaming = values.streaming;
  if (streaming !== undefined && streaming !== "off" && streaming !== "pg_receivewal")
    throw new Error(`invalid --streaming "${streaming}": expected off or pg_receivewal`);
  const delay = values["archive-delay"];
  return {
    scale,
    scenario,
    ...(streaming ? { streaming } : {}),
    ...(values["archive-timeout"] !== undefined
      ? { archiveTimeoutSeconds: bounded("archive-timeout", values["archive-timeout"], 60, 1, 3600, true) }
      : {}),
    ...(delay !== undefined ? { archiveDelaySeconds: bounded("archive-delay", delay, 0, 1, 3600, true) } : {}),
    writeSeconds: bounded("write-seconds", values["write-seconds"], 20, 1, 3600),
    commitsPerSecond: bounded("rate", values.rate, 100, 1, 5000),
    writers: bounded("writers", values.writers, 2, 1, 16, true),
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
