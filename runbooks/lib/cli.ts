/**
 * The command line every runbook shares: argument parsing, `--help`, outputs loading,
 * confirmation, one exit handler, exit codes. A runbook file ends with
 * `if (isMain(import.meta.url)) await runCli(runbook, { sinks })`.
 */
import { existsSync, writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { basename, join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import type { Writable } from "node:stream";
import type { StackOutputs } from "../../contract/stack-outputs.ts";
import { createClientFactory, policyOf, type AwsSettings, type ClientFactory } from "./aws.ts";
import { execute, sourceArgs, type ExecuteResult } from "./engine.ts";
import { BadInputError, EXIT, errorMessage, type ExitCode } from "./errors.ts";
import { Journal, validateRunId, type JournalData, type OutputsSource } from "./journal.ts";
import { checkResume } from "./resume.ts";
import { commandLine } from "./shell.ts";
import { checkStateDir } from "./state-dir.ts";
import { checkEnvironment } from "./environment.ts";
import { slackSink, type NotificationSink, type NotifierTiming } from "./notifications.ts";
import type { Me } from "./run-lock.ts";
import { ReliableStore } from "./run-store.ts";
import { journalKey, reportKey } from "./shared-journal.ts";
import { loadOutputs, type OutputsMirrorSource, type PulumiOutputReader } from "./outputs-loader.ts";
import { stringOption, withDefaults } from "./options.ts";
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
  /** How long notifications may take (tests shorten it). */
  notifications?: Partial<NotifierTiming>;
  /** Yes/no prompt; default zx `question` when stdin is a terminal, none otherwise. */
  ask?: ((q: string) => Promise<boolean>) | null;
  pulumi?: PulumiOutputReader;
  /** Where `--stack` falls back to when the state backend is unreachable (the DR-region mirror). */
  outputsMirror?: (clients: ClientFactory) => OutputsMirrorSource;
  signal?: AbortSignal;
  /** How a human re-runs this runbook, for messages. */
  command?: string;
  /** This process as the run lock names it (tests stand in for another machine). */
  me?: Me;
  /** The clock (tests age gate results and locks). */
  now?: () => Date;
}

export interface CliResult extends Partial<ExecuteResult> {
  exitCode: ExitCode;
  message: string;
}

/** The newest change a journal records (its progress), to pick the newer of two copies. */
function lastChange(data: JournalData): number {
  const times = [
    data.startedAt,
    data.finishedAt,
    ...Object.values(data.steps).flatMap((r) => [r.startedAt, r.endedAt]),
  ];
  return Math.max(...times.filter((t): t is string => typeof t === "string").map((t) => Date.parse(t)));
}

// Long on purpose: the CLI's one path from argv to a result (help, outputs, resume, execute), read in order.
export async function main<O>(runbook: Runbook<O>, deps: CliDeps = {}): Promise<CliResult> {
  const env = deps.env ?? process.env;
  const stdout = deps.stdout ?? process.stdout;
  const stderr = deps.stderr ?? process.stderr;
  const command = deps.command ?? `npx zx runbooks/${runbook.name}.ts`;
  const extra = runbook.options ?? {};
  let values: Record<string, string | boolean | undefined>;
  try {
    const optionSpec = Object.fromEntries(
      Object.entries({ ...COMMON_OPTIONS, ...extra }).map(([k, v]) => [k, { type: v.type }]),
    );
    values = parseArgs({
      args: negativeValuesJoined(deps.argv ?? scriptArgs(), optionSpec),
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
  const log = { info: (m: string) => printer.info(m), warn: (m: string) => printer.warn(m) };
  const clients = deps.clients ?? createClientFactory(deps.aws);
  try {
    checkEnvironment(env);
    const stateDir = checkStateDir(
      stringOption(withDefaults(COMMON_OPTIONS, values), "state-dir", "a directory"),
      values["dry-run"] !== true,
    );
    const given = {
      ...(typeof values.stack === "string" ? { stack: values.stack } : {}),
      ...(typeof values.outputs === "string" ? { file: values.outputs } : {}),
    };
    let raw: RawOptions = Object.fromEntries(Object.keys(extra).map((k) => [k, values[k]]));
    let source: OutputsSource = given;
    let force = values.force === true;
    const resumeId = typeof values.resume === "string" ? validateRunId(values.resume) : undefined;
    let local: Journal | undefined;
    if (resumeId !== undefined) {
      if (values["run-id"] !== undefined)
        throw new BadInputError("--resume and --run-id cannot be combined: --resume continues an existing run id");
      if (Journal.exists(stateDir, resumeId)) {
        local = Journal.load(stateDir, resumeId, runbook.name);
        if (!given.stack && !given.file) source = local.data.source;
      } else if (!given.stack && !given.file) {
        throw new BadInputError(
          `no journal for run id "${resumeId}" in ${stateDir}: check --state-dir, or, to resume a run started ` +
            `on another machine, give --stack <name> (or --outputs <file>) too: its journal is read from that ` +
            `stack's shared store`,
        );
      }
    }
    if (values["run-id"] !== undefined) validateRunId(String(values["run-id"]));
    // A new run's options are checked before anything is read; a resumed run's come from its journal.
    let options = resumeId === undefined && runbook.parseOptions ? runbook.parseOptions(raw) : (raw as O);
    const incidentAt =
      typeof values["incident-at"] === "string" ? parseTime("incident-at", values["incident-at"]) : undefined;
    const { outputs, peer, notes } = await loadOutputs(
      source,
      runbook.needsPeer === true,
      deps.pulumi,
      deps.outputsMirror?.(clients),
    );
    for (const note of notes) printer.warn(note);
    const shared = runbook.sharedStore?.(outputs, peer, clients);
    const store = shared
      ? new ReliableStore(shared, { ...policyOf(clients), budgetMs: 60_000, callTimeoutMs: 15_000 }, { log })
      : undefined;
    const storeNote = runbook.sharedStore && !shared ? "the stack outputs name no shared run store" : null;
    if (values["take-over"] === true && !store)
      printer.warn("--take-over: this run keeps no shared run lock, so there is nothing to take over");
    const resume =
      resumeId === undefined
        ? undefined
        : await journalToResume({
            runbook,
            resumeId,
            stateDir,
            local,
            store,
            outputs,
            peer,
            printer,
            given: Object.fromEntries(Object.keys(extra).map((k) => [k, values[k]])),
            accept: values["accept-changed-inputs"] === true,
            newRunCommand: commandLine(command, sourceArgs(given)),
          });
    if (resume) {
      raw = resume.data.options;
      force = resume.data.force || force;
      options = runbook.parseOptions ? runbook.parseOptions(raw) : (raw as O);
      if (given.stack || given.file) source = { ...resume.data.source, ...given };
    }
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
      ...(store ? { store } : {}),
      ...(storeNote ? { storeNote } : {}),
      takeOver: values["take-over"] === true,
      clients,
      sinks,
      ...(deps.notifications ? { notifierTiming: deps.notifications } : {}),
      ask,
      printer,
      ...(deps.signal ? { signal: deps.signal } : {}),
      ...(deps.me ? { me: deps.me } : {}),
      ...(deps.now ? { now: deps.now } : {}),
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

/**
 * The journal a `--resume` continues: this machine's, or the shared copy when that one is newer
 * (then copied here); refused when it is of another stack, was refused, or its inputs differ.
 */
async function journalToResume<O>(r: {
  runbook: Runbook<O>;
  resumeId: string;
  stateDir: string;
  local: Journal | undefined;
  store: ReliableStore | undefined;
  outputs: StackOutputs;
  peer: StackOutputs | undefined;
  printer: ReturnType<typeof createPrinter>;
  given: RawOptions;
  accept: boolean;
  newRunCommand: string;
}): Promise<Journal> {
  const { runbook, resumeId, store, local, outputs, printer } = r;
  const remote = store
    ? await store.get(journalKey(runbook.name, outputs.stack, resumeId)).catch((error: unknown) => {
        printer.warn(`shared journal not readable from ${store.location}: ${errorMessage(error)}`);
        return undefined;
      })
    : undefined;
  const remoteData = remote
    ? Journal.check(Journal.parse(remote.body, store!.location), store!.location, resumeId, runbook.name)
    : undefined;
  const useRemote = remoteData !== undefined && (!local || lastChange(remoteData) > lastChange(local.data));
  const data = useRemote ? remoteData : local?.data;
  if (!data)
    throw new BadInputError(
      `no journal for run id "${resumeId}" in ${r.stateDir}${store ? ` nor in the shared store ${store.location}` : " and this runbook keeps no shared journal"}: check the run id and the stack`,
    );
  if (data.stack && data.stack !== outputs.stack)
    throw new BadInputError(
      `run ${resumeId} acted on stack "${data.stack}", not "${outputs.stack}": resume it with --stack ${data.stack}`,
    );
  const log = { info: (m: string) => printer.info(m), warn: (m: string) => printer.warn(m) };
  checkResume(data, useRemote ? store!.location : local!.path, { ...r, log });
  if (!useRemote) return local!;
  printer.info(
    `resuming from the shared journal in ${store!.location}${local ? " (newer than this machine's copy)" : ""}`,
  );
  const resume = Journal.adopt(r.stateDir, remoteData);
  if (remoteData.status === "succeeded" && !existsSync(join(resume.dir, "report.json"))) {
    const report = await store!.get(reportKey(runbook.name, outputs.stack, resumeId)).catch(() => undefined);
    if (report) writeFileSync(join(resume.dir, "report.json"), report.body, { mode: 0o600 });
  }
  return resume;
}

/**
 * `--minutes -5` as `--minutes=-5`: Node's parser takes a value starting with "-" for an option
 * and refuses it as ambiguous; joined, the option's own check names the value and the range.
 */
function negativeValuesJoined(argv: string[], spec: Record<string, { type: string }>): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const next = argv[i + 1];
    const name = arg.startsWith("--") ? arg.slice(2) : undefined;
    if (name && spec[name]?.type === "string" && next !== undefined && /^-\d|^-\.\d/.test(next)) {
      out.push(`${arg}=${next}`);
      i++;
    } else out.push(arg);
  }
  return out;
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
