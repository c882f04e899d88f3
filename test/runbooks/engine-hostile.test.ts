/**
 * The engine under hostile conditions, without an emulator: the retry budget and its
 * classification, fresh gates, preflight before the first change, notifications that never
 * delay a step, and the small defects of issue 12 (isDone errors, rolled-over dates, a resume
 * hint for a refusal a resume repeats).
 */
import test from "ava";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { EXIT, BadInputError } from "../../runbooks/lib/errors.ts";
import { parseTime } from "../../runbooks/lib/args.ts";
import { publishSink } from "../../runbooks/lib/notifications.ts";
import {
  DEFAULT_RETRY,
  RetryBudget,
  RetryExhaustedError,
  transientKind,
  type RetryPolicy,
} from "../../runbooks/lib/retry.ts";
import type { Report } from "../../runbooks/lib/recovery-report.ts";
import type { PreflightCheck, Runbook, Step } from "../../runbooks/lib/types.ts";
import { sampleOutputs } from "../../rehearsal/stand-ins/seeded-outputs.ts";
import { Capture, runRunbook, workspace } from "../helpers/run-runbook.ts";

const err = (name: string, status?: number, extra: Record<string, unknown> = {}) =>
  Object.assign(new Error(`${name} (injected)`), { name, $metadata: { httpStatusCode: status }, ...extra });
const throttle = () => err("Throttling", 400);
const unavailable = () => err("ServiceUnavailable", 503);
const reset = () => Object.assign(new Error("socket hang up"), { name: "TimeoutError", code: "ECONNRESET" });

function budget(policy: Partial<RetryPolicy> = {}, scope = 'step "restore"') {
  const slept: number[] = [];
  const b = new RetryBudget({ ...DEFAULT_RETRY, baseMs: 100, capMs: 1000, ...policy }, scope, {
    random: () => 1,
    sleep: async (ms) => void slept.push(ms),
  });
  return { b, slept };
}

test("the SDK's failure shapes are classified: throttling, 5xx, resets and hangs retried; the rest not", (t) => {
  t.is(transientKind(throttle()), "throttling");
  t.is(transientKind(err("SlowDown", 503)), "throttling");
  t.is(transientKind(err("TooManyRequestsException", 429)), "throttling");
  t.is(transientKind(unavailable()), "server error");
  t.is(transientKind(err("InternalFailure", 500)), "server error");
  t.is(transientKind(reset()), "network error");
  t.is(
    transientKind(Object.assign(new Error("requestTimeout"), { name: "TimeoutError", code: "ETIMEDOUT" })),
    "timeout",
  );
  t.is(transientKind(err("AccessDeniedException", 400)), undefined);
  t.is(transientKind(err("DBInstanceAlreadyExists", 400)), undefined);
  t.is(transientKind(Object.assign(new Error("aborted"), { name: "AbortError" })), undefined);
  t.is(transientKind(new Error("wrapped", { cause: reset() })), "network error");
});

test("a throttled call is retried with growing, jittered backoff until it answers", async (t) => {
  const { b, slept } = budget();
  let n = 0;
  const out = await b.call("rds:DescribeDBInstances (us-west-2)", async () => {
    if (++n < 4) throw throttle();
    return "answer";
  });
  t.is(out, "answer");
  t.is(n, 4);
  t.deepEqual(slept, [100, 200, 400], "full jitter up to base·2^(n-1) (random = 1 here)");
  t.is(b.retries, 3);
  t.is(b.spentMs, 700);
});

test("a call that keeps failing stops at the attempts per call, naming the call and its last error", async (t) => {
  const { b } = budget({ maxAttempts: 3 });
  const error = await t.throwsAsync(
    b.call("ecs:UpdateService (us-west-2)", async () => {
      throw unavailable();
    }),
    { instanceOf: RetryExhaustedError },
  );
  t.is(
    error?.message,
    "ecs:UpdateService (us-west-2) failed 3 time(s), last with server error: ServiceUnavailable (injected) (HTTP 503); not retried again: 3 attempts per call",
  );
});

test("the step's budget bounds the backoff of all its calls together", async (t) => {
  const { b } = budget({ budgetMs: 450, maxAttempts: 10 });
  let first = 0;
  await b.call("a", async () => {
    if (++first < 3) throw throttle();
  });
  t.is(b.spentMs, 300);
  const error = await t.throwsAsync(
    b.call("route53:ChangeResourceRecordSets (us-east-1)", async () => {
      throw throttle();
    }),
  );
  t.regex(
    error!.message,
    /^route53:ChangeResourceRecordSets \(us-east-1\) failed 2 time\(s\), last with throttling: Throttling \(injected\) \(HTTP 400\); not retried again: the retry budget of step "restore" \(0 s of backoff\) is spent$/,
  );
});

test("an error a retry would repeat is not retried", async (t) => {
  const { b } = budget();
  let n = 0;
  await t.throwsAsync(
    b.call("x", async () => {
      n++;
      throw err("AccessDeniedException", 400);
    }),
    { name: "AccessDeniedException" },
  );
  t.is(n, 1);
});

test("after a lost answer the effect is looked up before the call is sent again", async (t) => {
  const { b } = budget();
  let sent = 0;
  const out = await b.call(
    "rds:RestoreDBInstanceFromDBSnapshot (us-west-2)",
    async () => {
      sent++;
      throw reset(); // the request reached AWS, the answer did not come back
    },
    { alreadyDone: async () => ({ DBInstance: { DBInstanceIdentifier: "eventchain-dr-db" } }) },
  );
  t.is(sent, 1, "not sent twice");
  t.deepEqual(out, { DBInstance: { DBInstanceIdentifier: "eventchain-dr-db" } });
  // A throttled call was refused before it was processed: no lookup, just sent again.
  let looked = 0;
  let n = 0;
  await b.call(
    "y",
    async () => {
      if (++n === 1) throw throttle();
      return "ok";
    },
    { alreadyDone: async () => void looked++ },
  );
  t.is(looked, 0);
});

test("a re-send answered AlreadyExists after a lost answer counts as done; a first AlreadyExists does not", async (t) => {
  const { b } = budget();
  let n = 0;
  const out = await b.call(
    "rds:CreateDBSnapshot (us-west-2)",
    async () => {
      if (++n === 1) throw unavailable();
      throw err("DBSnapshotAlreadyExistsFault", 400);
    },
    { alreadyExistsMeansDone: () => "done" },
  );
  t.is(out, "done");
  await t.throwsAsync(
    b.call(
      "rds:CreateDBSnapshot (us-west-2)",
      async () => {
        throw err("DBSnapshotAlreadyExistsFault", 400);
      },
      { alreadyExistsMeansDone: () => "done" },
    ),
    { name: "DBSnapshotAlreadyExistsFault" },
  );
});

test("an attempt that hangs is abandoned after the per-attempt timeout and retried", async (t) => {
  // Were the hung attempt not abandoned, the call would never end: the timeout says so (quietly
  // the test takes tens of ms).
  t.timeout(10_000);
  const { b } = budget({ callTimeoutMs: 50 });
  let n = 0;
  const out = await b.call("sns:Publish (us-east-1)", (signal) => {
    n++;
    if (n === 1)
      return new Promise((_, reject) => signal.addEventListener("abort", () => reject(new Error("aborted"))));
    return Promise.resolve("second answer");
  });
  t.is(out, "second answer");
  t.is(n, 2, "the hung attempt, then the retry");
});

// ---- the engine, with fake runbooks ----

function setup(t: Parameters<typeof workspace>[0]) {
  const ws = workspace(t);
  const outputsFile = ws.writeOutputs({ prod: sampleOutputs("prod"), dr: sampleOutputs("dr") });
  return { ws, base: ["--outputs", outputsFile, "--stack", "prod", "--state-dir", ws.stateDir] };
}

/** check (a read-only gate) → prepare → switch (moves traffic) → finish; `calls` records each run. */
function gatedRunbook(calls: string[], overrides: Partial<Record<string, Partial<Step>>> = {}): Runbook {
  const mk = (id: string, dependsOn: Step[], extra: Partial<Step> = {}): Step => ({
    id,
    title: `Do ${id}`,
    dependsOn,
    describe: () => [{ kind: "note", action: `would do ${id}` }],
    run: async () => {
      calls.push(id);
      return { did: id };
    },
    ...extra,
    ...overrides[id],
  });
  const check = mk("check", [], { readOnly: true, gate: true });
  const prepare = mk("prepare", [check]);
  const move = mk("switch", [prepare], { movesTraffic: true });
  const finish = mk("finish", [move]);
  return {
    name: "gated",
    summary: "A runbook with a gate",
    system: "primary-database",
    steps: [check, prepare, move, finish],
  };
}

test("an error thrown by a step's isDone fails that step: journaled and named, with the resume command", async (t) => {
  const { ws, base } = setup(t);
  const calls: string[] = [];
  const res = await runRunbook(
    gatedRunbook(calls, {
      prepare: {
        isDone: async () => {
          throw new Error("DescribeDBInstances: AccessDenied");
        },
      },
    }),
    [...base, "--yes", "--run-id", "d1"],
  );
  t.is(res.exitCode, EXIT.failed);
  t.is(res.report?.failure?.stepId, "prepare");
  const rec = ws.journal("d1").steps.prepare!;
  t.is(rec.status, "failed");
  t.is(rec.attempts, 0, "run never started");
  t.is(rec.error, "checking whether it is already done: DescribeDBInstances: AccessDenied");
  t.regex(res.stdout, /FAILED at step "prepare": checking whether it is already done: .*resume: .* --resume d1/);
  t.deepEqual(calls, ["check"]);
});

test("a refusal before any change prints no resume hint (a resume would repeat it); one after a change does", async (t) => {
  const { base } = setup(t);
  const refuse = async () => {
    throw new BadInputError("restore time 2025-01-01T00:00:00.000Z is outside the restorable window");
  };
  const before = await runRunbook(gatedRunbook([], { check: { run: refuse } }), [...base, "--yes", "--run-id", "b1"]);
  t.is(before.exitCode, EXIT.badInput);
  t.notRegex(before.stdout, /--resume/);
  t.regex(
    before.stdout,
    /gated REFUSED at step "check": restore time .* outside the restorable window\. Nothing was changed; a resume would repeat this\. Correct the input and start a new run: npx zx runbooks\/gated\.ts --outputs .* --stack prod …/,
  );
  t.is(before.report, undefined, "an assessment's refusal comes before the journal: no run to resume");
  const after = await runRunbook(gatedRunbook([], { finish: { run: refuse } }), [...base, "--yes", "--run-id", "b2"]);
  t.is(after.exitCode, EXIT.failed, "something was changed already: not exit 2");
  t.regex(after.stdout, /FAILED at step "finish": .* resume: .* --resume b2/);
});

test("--time and --incident-at refuse dates that do not exist instead of rolling them over", async (t) => {
  for (const [value, why] of [
    ["2026-02-30T10:00:00Z", /2026-02 has 28 days, not 30/],
    ["2026-11-31T10:00:00Z", /2026-11 has 30 days, not 31/],
    ["2026-01-15T24:00:00Z", /hour 24 is out of range/],
    ["2026-01-15T12:60:00Z", /minute 60 is out of range/],
    ["2026-13-01T10:00:00Z", /month 13 does not exist/],
    ["2026-01-15T10:00:00+25:00", /zone offset \+25:00 is out of range/],
  ] as const) {
    const error = t.throws(() => parseTime("time", value), { instanceOf: BadInputError });
    t.regex(error!.message, why, value);
    t.regex(error!.message, new RegExp(`^invalid --time "${value.replace(/[+.]/g, "\\$&")}": `));
  }
  t.is(parseTime("time", "2028-02-29T10:00:00Z").toISOString(), "2028-02-29T10:00:00.000Z", "a leap day exists");
  t.is(parseTime("time", "2026-01-15T14:30:00.5+02:00").toISOString(), "2026-01-15T12:30:00.500Z");
  const { ws, base } = setup(t);
  const calls: string[] = [];
  const res = await runRunbook(gatedRunbook(calls), [...base, "--yes", "--incident-at", "2026-02-30T10:00:00Z"]);
  t.is(res.exitCode, EXIT.badInput);
  t.regex(res.stdout, /invalid --incident-at "2026-02-30T10:00:00Z": 2026-02 has 28 days, not 30/);
  t.deepEqual(calls, []);
  t.deepEqual(ws.runIds(), []);
});

test("a gate is re-checked right before the traffic-moving step when the run is resumed", async (t) => {
  const { ws, base } = setup(t);
  const calls: string[] = [];
  const stopped = await runRunbook(gatedRunbook(calls), [...base, "--run-id", "g1"]);
  t.is(stopped.exitCode, EXIT.stopped);
  t.deepEqual(calls, ["check", "prepare"]);
  const resumed = await runRunbook(gatedRunbook(calls), [...base, "--resume", "g1", "--yes"]);
  t.is(resumed.exitCode, EXIT.succeeded, resumed.stderr);
  t.deepEqual(calls, ["check", "prepare", "check", "switch", "finish"], "check ran again right before switch");
  t.regex(resumed.stderr, /re-checking "check" right before "switch": its result comes from an earlier process/);
  const rec = ws.journal("g1").steps.check!;
  t.is(rec.attempts, 1, "a re-check is not a repeat of the step");
  t.is(rec.rechecks, 1);
  t.is(resumed.report?.steps.find((s) => s.id === "check")?.rechecks, 1);
});

test("a gate that fails its re-check stops the step it gates; nothing after it runs", async (t) => {
  const { ws, base } = setup(t);
  const calls: string[] = [];
  let healthy = true;
  const runbook = gatedRunbook(calls, {
    check: {
      run: async () => {
        calls.push("check");
        if (!healthy) throw new Error("target group has no healthy target");
        return { healthy: true };
      },
    },
  });
  await runRunbook(runbook, [...base, "--run-id", "g2"]);
  healthy = false;
  const resumed = await runRunbook(runbook, [...base, "--resume", "g2", "--yes"]);
  t.is(resumed.exitCode, EXIT.failed);
  t.is(resumed.report?.failure?.stepId, "switch");
  t.regex(
    resumed.stdout,
    /FAILED at step "switch": gate "check" re-checked before this step failed: target group has no healthy target/,
  );
  t.false(calls.includes("switch"));
  t.is(ws.journal("g2").steps.switch!.attempts, 0);
});

test("a gate result older than five minutes is re-checked; a fresh one is not", async (t) => {
  const { base } = setup(t);
  let offset = 0;
  const now = () => new Date(Date.now() + offset);
  const calls: string[] = [];
  const aging = gatedRunbook(calls, {
    prepare: {
      run: async () => {
        calls.push("prepare");
        offset += 6 * 60_000; // the restore took six minutes
        return {};
      },
    },
  });
  const res = await runRunbook(aging, [...base, "--yes"], { now });
  t.is(res.exitCode, EXIT.succeeded, res.stderr);
  t.deepEqual(calls, ["check", "prepare", "check", "switch", "finish"]);
  t.regex(res.stderr, /re-checking "check" right before "switch": its result is 6 min old/);
  calls.length = 0;
  const fresh = await runRunbook(gatedRunbook(calls), [...base, "--yes"]);
  t.is(fresh.exitCode, EXIT.succeeded);
  t.deepEqual(calls, ["check", "prepare", "switch", "finish"]);
});

test("preflight runs once, after the read-only assessment and before the lock and journal, naming every gap", async (t) => {
  const { ws, base } = setup(t);
  const calls: string[] = [];
  const checked: string[] = [];
  const item = (what: string, problem?: string): PreflightCheck => ({
    what,
    check: async () => {
      checked.push(what);
      return problem;
    },
  });
  const runbook = {
    ...gatedRunbook(calls),
    preflight: () => [
      item("DB subnet group eventchain-dr-db (us-west-2)", "does not exist"),
      item("ECS cluster eventchain-dr (us-west-2)"),
      {
        what: "KMS key k",
        check: async () => {
          throw new Error("could not be checked: AccessDenied");
        },
      },
    ],
  };
  for (const args of [["--dry-run"], ["--yes", "--run-id", "p1"]]) {
    calls.length = 0;
    checked.length = 0;
    const res = await runRunbook(runbook, [...base, ...args]);
    t.is(res.exitCode, EXIT.badInput, args.join(" "));
    t.regex(
      res.stdout,
      /preflight of gated found 2 gap\(s\) in what it would touch; nothing was changed:\n {2}- DB subnet group eventchain-dr-db \(us-west-2\): does not exist\n {2}- KMS key k: could not be checked: AccessDenied\n/,
    );
    t.notRegex(res.stdout, /--resume/);
    t.deepEqual(calls, ["check"], "only the read-only assessment ran");
    t.is(checked.length, 2, "each check once");
  }
  t.deepEqual(ws.runIds(), [], "the refusal came before the lock and the journal: nothing was written");
  const fine = await runRunbook({ ...runbook, preflight: () => [item("ECS cluster")] }, [...base, "--yes"]);
  t.is(fine.exitCode, EXIT.succeeded);
  t.regex(fine.stderr, /preflight: 1 things this run will touch exist and are usable/);
});

test("notifications never delay a step: a sink that never answers is logged and the run ends within the bound", async (t) => {
  // A run that waited for its sinks would take a minute or more (quietly: 3 s, most of it the flush).
  t.timeout(60_000);
  const { ws, base } = setup(t);
  const calls: string[] = [];
  const stderr = new Capture();
  const hang = publishSink("stuck", () => new Promise(() => undefined));
  const got: string[] = [];
  const slow = publishSink("slow", async (subject) => {
    // Slow, but far within the bounds below (1 s a send, 2.5 s to flush): at least 20 times.
    await new Promise((r) => setTimeout(r, 50));
    got.push(subject);
  });
  let gaveUpBeforeFirstStep: boolean | undefined;
  let deliveredBeforeNotifyReturned: boolean | undefined;
  const runbook = gatedRunbook(calls, {
    check: {
      run: async () => {
        // The engine has not yet given up on "started" to the stuck sink: it did not wait for it.
        gaveUpBeforeFirstStep = /notification "started" to stuck/.test(stderr.text);
        calls.push("check");
        return { did: "check" };
      },
    },
    prepare: {
      run: async (ctx) => {
        await ctx.notify("progress", "restore started");
        // Returned before any sink had it: queued, not sent.
        deliveredBeforeNotifyReturned = got.some((s) => s.includes("progress"));
        calls.push("prepare");
        return {};
      },
    },
  });
  const res = await runRunbook(runbook, [...base, "--yes", "--run-id", "n1"], {
    sinks: () => [hang, slow],
    notifications: { sendTimeoutMs: 1000, flushMs: 2500 },
    stderr,
  });
  t.is(res.exitCode, EXIT.succeeded, res.stderr);
  t.false(gaveUpBeforeFirstStep, "the first step started without waiting for 'started'");
  t.false(deliveredBeforeNotifyReturned, "ctx.notify returns at once");
  t.regex(res.stderr, /notification "started" to stuck not answered within 1 s \(recovery continues\)/);
  // The last one is given up by its own 1 s bound or by the 2.5 s flush, whichever ends first: which
  // one depends on how long the run took, so either says it was not waited for.
  t.regex(
    res.stderr,
    /notification "succeeded" to stuck not answered within 1 s|not waiting longer than 2\.5 s for notifications .*"succeeded" to stuck/,
  );
  t.deepEqual(
    got.map((s) => /gated (\w+)|\] (progress)/.exec(s)?.slice(1).find(Boolean)),
    ["started", "progress", "succeeded"],
    "the slow sink got every notification, in order",
  );
  const report = JSON.parse(readFileSync(join(ws.stateDir, "n1", "report.json"), "utf8")) as Report;
  t.is(report.verdict, "objectives_met");
});
