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
import { validateScale } from "./stand-ins/eventchain-schema.ts";
import { withDefaults } from "../runbooks/lib/options.ts";
import type { OptionSpec } from "../runbooks/lib/types.ts";

/** An option of the drill: the runbooks' {@link OptionSpec}, with the value's placeholder for --help. */
interface DrillOptionSpec extends OptionSpec {
  /** The value's placeholder in --help (string options). */
  arg?: string;
}

/** The drill's options: --help and the parser (through `withDefaults`) both read this table. */
export const DRILL_OPTIONS = {
  scenario: {
    type: "string",
    arg: "<kind>",
    description:
      "crash: the primary crashes without warning, recovery to the latest recoverable point; bad-data: DELETE FROM payments without WHERE, recovery to just before it",
    default: "crash",
  },
  scale: { type: "string", arg: "<n>", description: "data size, 1 ≈ 13 MB on disk", default: "1" },
  streaming: {
    type: "string",
    arg: "<mode>",
    description: "off or pg_receivewal (default: walArchiving.streaming of the stack config)",
  },
  "archive-timeout": {
    type: "string",
    arg: "<s>",
    description: "archive_timeout in seconds (default: walArchiving.archiveTimeoutSeconds of the stack config)",
  },
  "archive-delay": {
    type: "string",
    arg: "<s>",
    description: "fault: every archive-push after the base backup is <s> seconds late",
  },
  "write-seconds": {
    type: "string",
    arg: "<s>",
    description: "how long the writers sell before the disaster",
    default: "20",
  },
  rate: { type: "string", arg: "<n>", description: "commits per second of all writers together", default: "100" },
  writers: { type: "string", arg: "<n>", description: "writer connections", default: "2" },
  keep: { type: "boolean", description: "keep the servers running for inspection until Ctrl-C, then clean up" },
  "state-dir": { type: "string", arg: "<dir>", description: "where reports and journals go", default: ".drill" },
  json: { type: "boolean", description: "print the drill report as JSON instead of Markdown" },
  help: { type: "boolean", description: "this text" },
} satisfies Record<string, DrillOptionSpec>;

/** The options the table gives a default. */
type DefaultedOption = {
  [K in keyof typeof DRILL_OPTIONS]: (typeof DRILL_OPTIONS)[K] extends { default: string } ? K : never;
}[keyof typeof DRILL_OPTIONS];

const HELP_INDENT = 27;
const HELP_WIDTH = 100;

/** Pure: `text` in lines of at most `width` characters, broken at spaces. */
function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(" ")) {
    if (line && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  return [...lines, line];
}

/** Pure: the --help text, from {@link DRILL_OPTIONS}. */
export function drillUsage(): string {
  const lines = Object.entries(DRILL_OPTIONS).flatMap(([name, o]: [string, DrillOptionSpec]) => {
    const head = `  --${name}${o.arg ? ` ${o.arg}` : ""}`.padEnd(HELP_INDENT);
    const text = o.default !== undefined ? `${o.description} (default ${o.default})` : o.description;
    return wrap(text, HELP_WIDTH - HELP_INDENT).map((h, i) => (i === 0 ? head : " ".repeat(HELP_INDENT)) + h);
  });
  return `npm run drill -- [options]

${lines.join("\n")}

Exit codes: 0 objectives met and verification passed · 1 a phase failed · 2 bad input ·
3 recovered and verified but an objective was missed · 130 interrupted.
`;
}

/** A number option within bounds; @throws Error naming the option, the value and what is allowed. */
function bounded(name: string, raw: string, min: number, max: number, integer = false): number {
  const v = Number(raw);
  if (raw.trim() === "" || !Number.isFinite(v) || v < min || v > max || (integer && !Number.isInteger(v)))
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
    options: Object.fromEntries(Object.entries(DRILL_OPTIONS).map(([name, o]) => [name, { type: o.type }])),
  });
  const raw = withDefaults(DRILL_OPTIONS, values);
  /** The value given, else the table's default; undefined for an option without one, not given. */
  const given = (name: keyof typeof DRILL_OPTIONS): string | undefined => {
    const v = raw[name];
    return typeof v === "string" ? v : undefined;
  };
  /** An option with a default always has a value. */
  const valueOf = (name: DefaultedOption): string => given(name)!;
  const rawScale = valueOf("scale");
  const scale = rawScale.trim() === "" ? NaN : Number(rawScale);
  if (!Number.isFinite(scale))
    throw new Error(`invalid --scale "${rawScale}": expected a number greater than 0 and at most 10000`);
  validateScale(scale);
  const scenario = valueOf("scenario");
  if (scenario !== "crash" && scenario !== "bad-data")
    throw new Error(`invalid --scenario "${scenario}": expected crash or bad-data`);
  const streaming = given("streaming");
  if (streaming !== undefined && streaming !== "off" && streaming !== "pg_receivewal")
    throw new Error(`invalid --streaming "${streaming}": expected off or pg_receivewal`);
  const timeout = given("archive-timeout");
  const delay = given("archive-delay");
  return {
    scale,
    scenario,
    ...(streaming ? { streaming } : {}),
    ...(timeout !== undefined ? { archiveTimeoutSeconds: bounded("archive-timeout", timeout, 1, 3600, true) } : {}),
    ...(delay !== undefined ? { archiveDelaySeconds: bounded("archive-delay", delay, 1, 3600, true) } : {}),
    writeSeconds: bounded("write-seconds", valueOf("write-seconds"), 1, 3600),
    commitsPerSecond: bounded("rate", valueOf("rate"), 1, 5000),
    writers: bounded("writers", valueOf("writers"), 1, 16, true),
    keep: values.keep === true,
    stateDir: resolve(valueOf("state-dir")),
    json: values.json === true,
    help: values.help === true,
  };
}

async function cli(): Promise<number> {
  let options: ReturnType<typeof parseDrillArgs>;
  try {
    options = parseDrillArgs(process.argv.slice(2));
  } catch (error) {
    process.stderr.write(`bad input: ${(error as Error).message}\n\n${drillUsage()}`);
    return 2;
  }
  if (options.help) {
    process.stdout.write(drillUsage());
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
