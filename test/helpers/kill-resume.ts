/**
 * Kill a runbook process right after one of its steps, then resume it as another machine.
 *
 * The runbook runs as a real process (`node --import=tsx runbooks/<name>.ts`) through the fault
 * proxy. The proxy watches the shared journal the process writes to the run-journal bucket:
 * the write that first records step `afterStep` as finished goes through, and from then on every
 * request of that process hangs (it is frozen right after the step, before the next one acts);
 * the process is then killed with SIGKILL. The resume runs in-process from another state
 * directory, as another host, after the holder's heartbeat has been silent for longer than the
 * take-over bound (the clock is moved on), with `--take-over`.
 */
import { spawn } from "node:child_process";
import type { ExecutionContext, TestFn } from "ava";
import type { StackOutputs } from "../../contract/stack-outputs.ts";
import { EXIT, type ExitCode } from "../../runbooks/lib/errors.ts";
import { SILENT_AFTER_MS } from "../../runbooks/lib/run-lock.ts";
import type { AnyStep, Runbook } from "../../runbooks/lib/types.ts";
import type { JournalData } from "../../runbooks/lib/journal.ts";
import { sampleOutputs } from "../../rehearsal/stand-ins/seeded-outputs.ts";
import { awsFor, type SeededMoto } from "./moto.ts";
import type { FaultProxy, Rule } from "./fault-proxy.ts";
import { runRunbook, workspace, type RunOutcome } from "./run-runbook.ts";

const root = new URL("../..", import.meta.url).pathname;

/** The runbook's steps as a run would list them (derived, never typed out: the steps may change). */
export function stepsOf<O>(runbook: Runbook<O>, raw: Record<string, string | boolean | undefined> = {}): AnyStep<O>[] {
  if (Array.isArray(runbook.steps)) return runbook.steps;
  const options = runbook.parseOptions ? runbook.parseOptions(raw) : (raw as O);
  return runbook.steps(options, sampleOutputs("prod") as StackOutputs);
}

const finished = (s: string | undefined) => s === "succeeded" || s === "skipped";

export interface KillResumeInput<O> {
  t: ExecutionContext;
  runbook: Runbook<O>;
  proxy: FaultProxy;
  /** The proxy's rule while the process runs and while it is resumed (e.g. the primary region down). */
  rule: Rule;
  /** The `--outputs` file. */
  outputs: string;
  /** Runbook arguments after the common ones, e.g. ["--writes-stopped"]. */
  args: string[];
  afterStep: string;
  runId: string;
}

export interface KillResumeResult {
  /** Steps the first process had finished when it was killed. */
  finishedBeforeKill: string[];
  resumed: RunOutcome;
  journal: JournalData;
}

export async function killAfterStepAndResume<O>(p: KillResumeInput<O>): Promise<KillResumeResult> {
  const first = workspace(p.t);
  const second = workspace(p.t);
  let frozen = false;
  let finishedBeforeKill: string[] = [];
  let freeze!: () => void;
  const frozenNow = new Promise<void>((resolve) => (freeze = resolve));
  p.proxy.setRule((req) => {
    if (frozen) return "hang";
    if (req.service === "s3" && req.action.startsWith("PUT") && req.body.includes(`"runId": "${p.runId}"`)) {
      let j: JournalData | undefined;
      try {
        j = JSON.parse(req.body) as JournalData;
      } catch {
        j = undefined;
      }
      if (j?.steps && finished(j.steps[p.afterStep]?.status)) {
        frozen = true;
        finishedBeforeKill = Object.entries(j.steps)
          .filter(([, r]) => finished(r.status))
          .map(([id]) => id);
        freeze();
      }
    }
    return p.rule(req);
  });
  const child = spawn(
    process.execPath,
    [
      "--import=tsx",
      `runbooks/${p.runbook.name}.ts`,
      "--outputs",
      p.outputs,
      "--stack",
      "prod",
      "--state-dir",
      first.stateDir,
      "--run-id",
      p.runId,
      "--yes",
      ...p.args,
    ],
    {
      cwd: root,
      env: { ...process.env, AWS_ENDPOINT_URL: p.proxy.endpoint, AWS_MAX_ATTEMPTS: "1" },
      stdio: ["ignore", "ignore", "pipe"],
    },
  );
  let stderr = "";
  child.stderr!.on("data", (c: Buffer) => (stderr = (stderr + c.toString()).slice(-4000)));
  p.t.teardown(() => void child.kill("SIGKILL"));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const outcome = await Promise.race([frozenNow.then(() => "frozen" as const), exited.then(() => "exited" as const)]);
  if (outcome !== "frozen")
    throw new Error(`the process ended before step ${p.afterStep} was journaled as finished: ${stderr}`);
  child.kill("SIGKILL");
  await exited;
  p.proxy.setRule(p.rule);

  // The other machine resumes once the holder has been silent for longer than the take-over bound.
  const skew = SILENT_AFTER_MS + 60_000;
  const resumed = await runRunbook(
    p.runbook,
    [
      "--resume",
      p.runId,
      "--outputs",
      p.outputs,
      "--stack",
      "prod",
      "--state-dir",
      second.stateDir,
      "--yes",
      "--take-over",
    ],
    {
      aws: awsFor(p.proxy.endpoint),
      me: { host: "second-machine", pid: process.pid, user: "bob", alive: () => true },
      now: () => new Date(Date.now() + skew),
    },
  );
  return { finishedBeforeKill, resumed, journal: second.journal(p.runId) };
}

export interface EachStepInput<O> {
  runbook: Runbook<O>;
  /** The runbook's steps (`stepsOf`): one case per step. */
  steps: AnyStep<O>[];
  /** What the uninterrupted run is called when it did not finish, e.g. "failover". */
  name: string;
  /** The run id of the case killed after step `k` (1-based). */
  runId: (k: number) => string;
  /** Runbook arguments after the common ones. */
  args: string[];
  /** The state the uninterrupted run ended in; undefined when it did not finish. */
  reference: () => Record<string, unknown> | undefined;
  /** Per case: the emulator made ready, the proxy and rule the process runs through, the outputs file. */
  prepare: (t: ExecutionContext) => Promise<{ proxy: FaultProxy; rule: Rule; outputs: string }>;
  /** The state compared with `reference` at the end of a case. */
  state: () => Promise<Record<string, unknown>>;
  /** Further checks of a case (e.g. how the lock was taken over). */
  also?: (t: ExecutionContext, result: KillResumeResult) => void;
  /** The resumed run's exit code (default 0; 5 when the old primary cannot be fenced). */
  exitCode?: ExitCode;
}

/**
 * One serial test per step (k = 1…N): the runbook killed right after step k and resumed as another
 * machine succeeds, runs no step the killed process had finished again, moves traffic after the
 * kill only on gates the resuming machine re-checked, and leaves the emulator as the
 * uninterrupted run did.
 */
export function killedAfterEachStep<O>(test: TestFn, p: EachStepInput<O>): void {
  for (const [i, step] of p.steps.entries()) {
    test.serial(
      `killed after step ${i + 1} of ${p.steps.length} (${step.id}), resumed elsewhere, it ends the same`,
      async (t) => {
        const reference = p.reference();
        if (!reference) return t.fail(`the uninterrupted ${p.name} did not finish`);
        const { proxy, rule, outputs } = await p.prepare(t);
        const result = await killAfterStepAndResume({
          t,
          runbook: p.runbook,
          proxy,
          rule,
          outputs,
          args: p.args,
          afterStep: step.id,
          runId: p.runId(i + 1),
        });
        const { finishedBeforeKill, resumed, journal } = result;
        t.true(finishedBeforeKill.includes(step.id));
        t.is(resumed.exitCode, p.exitCode ?? EXIT.succeeded, resumed.stdout + resumed.stderr);
        p.also?.(t, result);
        for (const id of finishedBeforeKill) t.true(journal.steps[id]!.attempts <= 1, `${id} not run again`);
        // Traffic moved after the kill only on gates re-checked by the resuming machine.
        if (p.steps.some((s) => s.movesTraffic && !finishedBeforeKill.includes(s.id)))
          for (const gate of p.steps.filter((s) => s.gate && finishedBeforeKill.includes(s.id)))
            t.regex(resumed.stderr, new RegExp(`re-checking "${gate.id}" right before`), gate.id);
        t.deepEqual(await p.state(), reference);
      },
    );
  }
}

/** The emulator's state as two runs that did the same work leave it alike (`normalized`, the health check named). */
export async function comparableState(m: Pick<SeededMoto, "seeded" | "state">): Promise<Record<string, unknown>> {
  return normalized(await m.state(), { [m.seeded().prod.dns.primaryHealthCheckId]: "<health check>" });
}

/**
 * `awsState` with what differs between any two runs replaced: timestamps in identifiers, and the
 * ids a fresh seed generates (`names`: value → placeholder, e.g. the health check's id).
 */
export function normalized(
  state: Record<string, unknown>,
  names: Record<string, string> = {},
): Record<string, unknown> {
  let text = JSON.stringify(state);
  for (const [value, name] of Object.entries(names)) text = text.split(value).join(name);
  // Ids the emulator makes anew at each seed (security groups, health checks) are not state; they
  // go first: a random id may hold 14 digits in a row, which would otherwise read as a timestamp.
  return JSON.parse(
    text
      .replace(/\bsg-[0-9a-f]{8,}\b/g, "<sg>")
      .replace(/\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b/g, "<uuid>")
      .replace(/\d{4}-\d{2}-\d{2}-\d{2}-\d{2}/g, "<date>")
      .replace(/\d{14}/g, "<t>"),
  ) as Record<string, unknown>;
}
