/**
 * The command line every runbook shares: argument parsing, `--help`, outputs loading,
 * confirmation, one exit handler, exit codes. A runbook file ends with
 * `if (isMain(import.meta.url)) await runCli(runbook, { sinks })`.
 */
import { parseArgs } from "node:util";
import { basename, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import type { Writable } from "node:stream";
import type { StackOutputs } from "../../infra/outputs.ts";
import { createClientFactory, type AwsSettings, type ClientFactory } from "./aws.ts";
import { execute, type ExecuteResult } from "./engine.ts";
import { BadInputError, EXIT, errorMessage, type ExitCode } from "./errors.ts";
import { Journal, validateRunId } from "./journal.ts";
import { slackSink, type NotificationSink } from "./notify.ts";
import { loadOutputs, type OutputsMirror, type PulumiOutputReader } from "./outputs.ts";
import { createPrinter } from "./printer.ts";
import type { RawOptions, Runbook } from "./types.ts";
import { COMMON_OPTIONS, parseTime, usage } from "./args.ts";

export { COMMON_OPTIONS, parseTime, usage } from "./args.ts";

export interface CliDeps {
  argv?: string[];
  env?: NodeJS.ProcessEnv;
  stdout?: Writable;
  stderr?: Writable;
  /** AWS client settings (tests point them at moto). */
  aws?: AwsSettings;
  clients?: ClientFactory;
  /** Notification sinks for the stack (runbooks pass the SNS topic sink). */
  sinks?: (outputs: StackOutputs, clients: ClientFactory, peer: StackOutputs | undefined) => NotificationSink[];
  /** Yes/no prompt; default zx `question` when stdin is a terminal, none otherwise. */
  ask?: ((q: string) => Promise<boolean>) | null;
  pulumi?: PulumiOutputReader;
  /** Where `--stack` falls back to when the state backend is unreachable (the DR-region mirror). */
  outputsMirror?: (clients: ClientFactory) => OutputsMirror;
  signal?: AbortSignal;
  /** How a human re-runs this runbook, for messages. */
  command?: string;
}

export interface CliResult extends Partial<ExecuteResult> {
  exitCode: ExitCode;
  message: string;
}

export async function main<O>(runbook: Runbook<O>, deps: CliDeps = {}): Promise<CliResult> {
  const env = deps.env ?? process.env;
  const stdout = deps.stdout ?? process.stdout;
  const stderr = deps.stderr ?? process.stderr;
  const command = deps.command ?? `npx tsx runbooks/${runbook.name}.ts`;
  const extra = runbook.options ?? {};
  let values: Record<string, string | boolean | undefined>;
  try {
    const optionSpec = Object.fromEntries(
      Object.entries({ ...COMMON_OPTIONS, ...extra }).map(([k, v]) => [k, { type: v.type }]),
    );
    values = parseArgs({
      args: deps.argv ?? scriptArgs(),
      options: optionSpec as never,
      strict: true,
      allowPositionals: false,
    }).values as typeof values;
  } catch (error) {
    const message = `${errorMessage(error)}\nRun with --help for the options.`;
    stderr.write(message + "\n");
    return { exitCode: EXIT.badInput, message };
  }
  if (values.help) {
    stdout.write(usage(runbook, command));
    return { exitCode: EXIT.succeeded, message: "help" };
  }
  const json = values.json === true;
  const printer = createPrinter({
    json,
    stdout,
    stderr,
    interactive: !json && Boolean((stderr as NodeJS.WriteStream).isTTY),
  });
  const clients = deps.clients ?? createClientFactory(deps.aws);
  try {
    const stateDir = resolve(typeof values["state-dir"] === "string" ? values["state-dir"] : ".runs");
    let resume: Journal | undefined;
    let raw: RawOptions = Object.fromEntries(Object.keys(extra).map((k) => [k, values[k]]));
    let source = {
      ...(typeof values.stack === "string" ? { stack: values.stack } : {}),
      ...(typeof values.outputs === "string" ? { file: values.outputs } : {}),
    };
    let force = values.force === true;
    if (typeof values.resume === "string") {
      if (values["run-id"] !== undefined)
        throw new BadInputError("--resume and --run-id cannot be combined: --resume continues an existing run id");
      resume = Journal.load(stateDir, validateRunId(values.resume), runbook.name);
      const given = Object.keys(extra).filter((k) => values[k] !== undefined);
      if (given.length)
        printer.warn(
          `resuming: runbook options come from the journal; ignoring ${given.map((k) => `--${k}`).join(", ")}`,
        );
      raw = resume.data.options;
      source = resume.data.source;
      force = resume.data.force || force;
    }
    if (values["run-id"] !== undefined) validateRunId(String(values["run-id"]));
    const options = runbook.parseOptions ? runbook.parseOptions(raw) : (raw as O);
    const incidentAt =
      typeof values["incident-at"] === "string" ? parseTime("incident-at", values["incident-at"]) : undefined;
    const { outputs, peer, notes } = await loadOutputs(
      source,
      runbook.needsPeer === true,
      deps.pulumi,
      deps.outputsMirror?.(clients),
    );
    for (const note of notes) printer.warn(note);
    const sinks: NotificationSink[] = [];
    if (!values["dry-run"]) {
      sinks.push(...(deps.sinks?.(outputs, clients, peer) ?? []));
      if (env.SLACK_WEBHOOK_URL) sinks.push(slackSink(env.SLACK_WEBHOOK_URL));
    }
    let ask = deps.ask === null ? undefined : deps.ask;
    if (deps.ask === undefined && process.stdin.isTTY && !json) {
      ask = async (q) => {
        const { question } = await import("zx");
        return /^y(es)?$/i.test((await question(q)).trim());
      };
    }
    const result = await execute({
      runbook,
      options,
      rawOptions: raw,
      outputs,
      peer,
      source,
      stateDir,
      dryRun: values["dry-run"] === true,
      yes: values.yes === true,
      force,
      ...(incidentAt ? { incidentAt } : {}),
      ...(typeof values["run-id"] === "string" ? { runId: values["run-id"] } : {}),
      ...(resume ? { resume } : {}),
      clients,
      sinks,
      ask,
      printer,
      ...(deps.signal ? { signal: deps.signal } : {}),
      command,
    });
    const nextSteps = result.report?.nextSteps ?? [];
    const tail = [
      result.message,
      ...(result.reportPaths ? [`Report: ${result.reportPaths.markdown}`] : []),
      ...nextSteps.map((s, i) => `  ${i + 1}. ${s}`),
    ].join("\n");
    printer.final(
      {
        event: "result",
        exitCode: result.exitCode,
        status: result.status,
        runId: result.runId,
        message: result.message,
        ...(result.report ? { report: result.report } : {}),
        ...(result.plan ? { plan: result.plan } : {}),
      },
      tail,
    );
    return result;
  } catch (error) {
    const bad = error instanceof BadInputError;
    const message = bad ? `bad input: ${error.message}` : `error: ${errorMessage(error)}`;
    printer.final({ event: "result", exitCode: bad ? EXIT.badInput : EXIT.failed, status: "failed", message }, message);
    return { exitCode: bad ? EXIT.badInput : EXIT.failed, message };
  } finally {
    if (!deps.clients) clients.destroy();
  }
}

/** True when the module at `url` is the script node was started with. */
export function isMain(url: string): boolean {
  const script = process.argv[scriptIndex()];
  return script !== undefined && url === pathToFileURL(resolve(script)).href;
}

/** True when zx runs the script (`npx zx runbooks/x.ts`): argv[1] is zx's own entry. */
function underZx(): boolean {
  const runner = process.argv[1] ?? "";
  return /^zx(\.[cm]?js)?$/.test(basename(runner)) || /[\\/]zx[\\/]build[\\/]cli\.js$/.test(runner);
}

/** Where the script's own path stands in `process.argv`: 1 under `node` and `tsx`, 2 under `zx`. */
function scriptIndex(): number {
  return underZx() ? 2 : 1;
}

/** The command-line arguments after the script's path (`node`, `tsx` or `zx` alike). */
export function scriptArgs(): string[] {
  return process.argv.slice(scriptIndex() + 1);
}

/** Runs `main` for a script: one exit handler; SIGINT/SIGTERM stop between steps (journal kept). */
export async function runCli<O>(runbook: Runbook<O>, deps: Omit<CliDeps, "signal"> = {}): Promise<void> {
  const controller = new AbortController();
  let signals = 0;
  const onSignal = (sig: NodeJS.Signals) => {
    signals++;
    if (signals > 1) process.exit(EXIT.interrupted);
    process.stderr.write(
      `\n${sig}: stopping (waits are cut short, no new step starts); the journal keeps what finished; continue later with --resume (press again to quit at once)\n`,
    );
    controller.abort(new Error(sig));
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  const result = await main(runbook, { ...deps, signal: controller.signal });
  process.exitCode = result.exitCode;
}
