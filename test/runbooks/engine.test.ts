import test from "ava";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Ajv } from "ajv";
import fc from "fast-check";
import { EXIT } from "../../runbooks/lib/errors.ts";
import { BadInputError } from "../../runbooks/lib/errors.ts";
import { rtoStatus, RecoveryTracker, objectiveFromOutputs } from "../../runbooks/lib/tracker.ts";
import { mermaidGantt, renderMarkdown, type Report } from "../../runbooks/lib/recovery-report.ts";
import { notifyAll, publishSink } from "../../runbooks/lib/notifications.ts";
import { resolveDependencies } from "../../runbooks/lib/plan.ts";
import type { Runbook, Step } from "../../runbooks/lib/types.ts";
import { sampleOutputs } from "../../rehearsal/stand-ins/seeded-outputs.ts";
import { runRunbook, workspace } from "../helpers/run-runbook.ts";

const schema = JSON.parse(readFileSync(new URL("../../runbooks/lib/report.schema.json", import.meta.url), "utf8"));
const ajv = new Ajv({
  allErrors: true,
  formats: { "date-time": (s: string) => /^\d{4}-\d{2}-\d{2}T/.test(s) && !Number.isNaN(Date.parse(s)) },
});
const validateReport = ajv.compile(schema);

/** A runbook whose steps record what they did into `calls`. */
function fakeRunbook(calls: string[], overrides: Partial<Record<string, Partial<Step>>> = {}): Runbook {
  let previous: Step | undefined;
  const step = (id: string, extra: Partial<Step> = {}): Step =>
    (previous = {
      id,
      title: `Do ${id}`,
      dependsOn: previous ? [previous] : [],
      describe: () => [{ kind: "note", action: `would do ${id}` }],
      run: async () => {
        calls.push(id);
        return { did: id };
      },
      ...extra,
      ...overrides[id],
    });
  return {
    name: "fake",
    summary: "A runbook for engine tests",
    system: "primary-database",
    steps: [
      step("assess", { readOnly: true }),
      step("prepare"),
      step("switch", { movesTraffic: true }),
      step("finish"),
    ],
  };
}

function setup(t: Parameters<typeof workspace>[0]) {
  const ws = workspace(t);
  const outputsFile = ws.writeOutputs({ prod: sampleOutputs("prod"), dr: sampleOutputs("dr") });
  const base = ["--outputs", outputsFile, "--stack", "prod", "--state-dir", ws.stateDir];
  return { ws, base };
}

test("a run executes every step in order, journals outputs and writes a valid report", async (t) => {
  const { ws, base } = setup(t);
  const calls: string[] = [];
  const res = await runRunbook(fakeRunbook(calls), [...base, "--yes", "--run-id", "r1"]);
  t.is(res.exitCode, EXIT.succeeded, res.stderr);
  t.deepEqual(calls, ["assess", "prepare", "switch", "finish"]);
  const journal = ws.journal("r1");
  t.is(journal.status, "succeeded");
  t.deepEqual(journal.steps.prepare?.outputs, { did: "prepare" });
  const report = JSON.parse(readFileSync(join(ws.stateDir, "r1", "report.json"), "utf8")) as Report;
  t.true(validateReport(report), JSON.stringify(validateReport.errors));
  t.is(report.verdict, "objectives_met");
  t.is(report.tier, "critical");
  t.is(report.objective.rtoMinutes, 60);
  t.deepEqual(
    report.steps.map((s) => s.status),
    ["succeeded", "succeeded", "succeeded", "succeeded"],
  );
  const md = readFileSync(join(ws.stateDir, "r1", "report.md"), "utf8");
  t.regex(md, /```mermaid\ngantt\n/);
  t.regex(md, /Do prepare :done, s1, \d+, \d+/);
});

test("independent steps run side by side", async (t) => {
  const { base } = setup(t);
  let release!: () => void;
  const released = new Promise<void>((r) => (release = r));
  const order: string[] = [];
  const done = (id: string) => {
    order.push(id);
    return {};
  };
  const a: Step = { id: "a", title: "A", dependsOn: [], describe: () => [], run: async () => done("a") };
  const b: Step = {
    id: "b",
    title: "B",
    dependsOn: [a],
    describe: () => [],
    run: async () => {
      await released;
      return done("b");
    },
  };
  const c: Step = {
    id: "c",
    title: "C",
    dependsOn: [a],
    describe: () => [],
    run: async () => {
      release();
      return done("c");
    },
  };
  const d: Step = { id: "d", title: "D", dependsOn: [b, c], describe: () => [], run: async () => done("d") };
  const runbook: Runbook = {
    name: "parallel",
    summary: "b waits for c, so a sequential engine would hang",
    system: "core-api",
    steps: [a, b, c, d],
  };
  const res = await runRunbook(runbook, base);
  t.is(res.exitCode, EXIT.succeeded, res.stderr);
  t.deepEqual(order, ["a", "c", "b", "d"]);
});

test("dry run prints every planned action, runs only read-only steps and writes nothing", async (t) => {
  const { ws, base } = setup(t);
  const calls: string[] = [];
  const res = await runRunbook(fakeRunbook(calls), [...base, "--dry-run"]);
  t.is(res.exitCode, EXIT.succeeded, res.stderr);
  t.deepEqual(calls, ["assess"]);
  for (const id of ["assess", "prepare", "switch", "finish"]) t.true(res.stderr.includes(`would do ${id}`), id);
  t.regex(res.stderr, /moves traffic/);
  t.deepEqual(ws.runIds(), []);
});

test("without a terminal and without --yes the run stops before a traffic-moving step, and --resume --yes finishes it", async (t) => {
  const { ws, base } = setup(t);
  const calls: string[] = [];
  const first = await runRunbook(fakeRunbook(calls), [...base, "--run-id", "r2"]);
  t.is(first.exitCode, EXIT.stopped);
  t.regex(first.stdout, /step "switch" .* needs confirmation, but there is no terminal to ask: re-run with --yes/);
  t.deepEqual(calls, ["assess", "prepare"]);
  t.is(ws.journal("r2").status, "stopped");
  const second = await runRunbook(fakeRunbook(calls), [...base, "--resume", "r2", "--yes"]);
  t.is(second.exitCode, EXIT.succeeded, second.stderr);
  t.deepEqual(calls, ["assess", "prepare", "switch", "finish"]);
  t.is(ws.journal("r2").steps.prepare?.attempts, 1);
});

test("a declined prompt stops the run; an accepted one proceeds", async (t) => {
  const { base } = setup(t);
  const calls: string[] = [];
  const questions: string[] = [];
  const declined = await runRunbook(fakeRunbook(calls), base, { ask: async (q) => (questions.push(q), false) });
  t.is(declined.exitCode, EXIT.stopped);
  t.regex(questions[0]!, /Step "Do switch" moves traffic\. Proceed\?/);
  t.false(calls.includes("switch"));
  const accepted = await runRunbook(fakeRunbook(calls), base, { ask: async () => true });
  t.is(accepted.exitCode, EXIT.succeeded);
  t.true(calls.includes("switch"));
});

test("a failed step names itself and the resume command; resuming repeats no finished step", async (t) => {
  const { ws, base } = setup(t);
  const calls: string[] = [];
  let broken = true;
  const runbook = fakeRunbook(calls, {
    switch: {
      run: async () => {
        calls.push("switch");
        if (broken) throw new Error("target group unhealthy");
        return {};
      },
    },
  });
  const first = await runRunbook(runbook, [...base, "--yes", "--run-id", "r3"]);
  t.is(first.exitCode, EXIT.failed);
  t.regex(first.stdout, /FAILED at step "switch": target group unhealthy\. Fix the cause, then resume: .* --resume r3/);
  const failedReport = JSON.parse(readFileSync(join(ws.stateDir, "r3", "report.json"), "utf8")) as Report;
  t.true(validateReport(failedReport), JSON.stringify(validateReport.errors));
  t.is(failedReport.verdict, "failed");
  t.is(failedReport.failure?.stepId, "switch");
  t.is(failedReport.steps.find((s) => s.id === "finish")?.status, "not_started");
  broken = false;
  const second = await runRunbook(runbook, [...base, "--yes", "--resume", "r3"]);
  t.is(second.exitCode, EXIT.succeeded, second.stderr);
  t.deepEqual(calls, ["assess", "prepare", "switch", "switch", "finish"]);
  const journal = ws.journal("r3");
  t.is(journal.steps.assess?.attempts, 1);
  t.is(journal.steps.switch?.attempts, 2);
});

test("a run interrupted after step k resumes at step k+1", async (t) => {
  const { ws, base } = setup(t);
  const calls: string[] = [];
  const controller = new AbortController();
  const runbook = fakeRunbook(calls, {
    prepare: {
      run: async () => {
        calls.push("prepare");
        controller.abort();
        return { did: "prepare" };
      },
    },
  });
  const first = await runRunbook(runbook, [...base, "--yes", "--run-id", "r4"], { signal: controller.signal });
  t.is(first.exitCode, EXIT.interrupted);
  t.deepEqual(calls, ["assess", "prepare"]);
  const second = await runRunbook(runbook, [...base, "--yes", "--resume", "r4"]);
  t.is(second.exitCode, EXIT.succeeded);
  t.deepEqual(calls, ["assess", "prepare", "switch", "finish"]);
  t.deepEqual(ws.journal("r4").steps.switch?.attempts, 1);
});

test("an interrupt during a wait stops the step, exits 130, and --resume runs that step again", async (t) => {
  const { ws, base } = setup(t);
  const calls: string[] = [];
  const controller = new AbortController();
  let waitCut = false;
  const runbook = fakeRunbook(calls, {
    prepare: {
      run: async (ctx) => {
        calls.push("prepare");
        if (!waitCut) {
          waitCut = true;
          // A long wait (like an SDK waiter given ctx.signal) that the operator interrupts.
          const waiting = new Promise((_, reject) =>
            ctx.signal.addEventListener("abort", () => reject(new Error("Request aborted")), { once: true }),
          );
          controller.abort();
          await waiting;
        }
        return { did: "prepare" };
      },
    },
  });
  const first = await runRunbook(runbook, [...base, "--yes", "--run-id", "r8"], { signal: controller.signal });
  t.is(first.exitCode, EXIT.interrupted);
  t.is(first.report?.verdict, "interrupted");
  t.is(first.report?.failure?.stepId, "prepare");
  t.regex(ws.journal("r8").steps.prepare!.error!, /^interrupted: Request aborted/);
  const second = await runRunbook(runbook, [...base, "--yes", "--resume", "r8"]);
  t.is(second.exitCode, EXIT.succeeded, second.stdout);
  t.deepEqual(calls, ["assess", "prepare", "prepare", "switch", "finish"]);
});

test("re-running a finished run changes nothing, and a step already in place is skipped", async (t) => {
  const { ws, base } = setup(t);
  const calls: string[] = [];
  await runRunbook(fakeRunbook(calls), [...base, "--yes", "--run-id", "r5"]);
  calls.length = 0;
  const reportBefore = readFileSync(join(ws.stateDir, "r5", "report.json"), "utf8");
  const again = await runRunbook(fakeRunbook(calls), [...base, "--yes", "--resume", "r5"]);
  t.is(again.exitCode, EXIT.succeeded);
  t.regex(again.stdout, /fake run r5 had already succeeded/);
  t.deepEqual(calls, []);
  t.is(readFileSync(join(ws.stateDir, "r5", "report.json"), "utf8"), reportBefore, "the original report is kept");
  const idempotent = fakeRunbook(calls, { prepare: { isDone: async () => ({ already: true }) } });
  const fresh = await runRunbook(idempotent, [...base, "--yes", "--run-id", "r6"]);
  t.is(fresh.exitCode, EXIT.succeeded);
  t.false(calls.includes("prepare"));
  t.is(ws.journal("r6").steps.prepare?.status, "skipped");
  t.deepEqual(ws.journal("r6").steps.prepare?.outputs, { already: true });
});

test("an incident long before the run misses the RTO: verdict objectives_missed and exit code 3", async (t) => {
  const { ws, base } = setup(t);
  const incidentAt = new Date(Date.now() - 2 * 3600_000).toISOString();
  const calls: string[] = [];
  const runbook = fakeRunbook(calls, {
    prepare: {
      run: async () => ({
        recoveryPointAt: new Date(Date.parse(incidentAt) - 5 * 60_000).toISOString(),
        recoveryPointSource: "test",
      }),
    },
  });
  const res = await runRunbook(runbook, [...base, "--yes", "--run-id", "r7", "--incident-at", incidentAt]);
  t.is(res.exitCode, EXIT.objectivesMissed);
  const report = JSON.parse(readFileSync(join(ws.stateDir, "r7", "report.json"), "utf8")) as Report;
  t.true(validateReport(report));
  t.is(report.verdict, "objectives_missed");
  t.is(report.rto.status, "exceeded");
  t.false(report.rto.met);
  t.is(report.rpo.achievedMinutes, 5);
  t.true(report.rpo.met);
});

test("bad input fails with exit code 2 naming the value, and changes nothing", async (t) => {
  const { ws, base } = setup(t);
  const calls: string[] = [];
  const unknownFlag = await runRunbook(fakeRunbook(calls), [...base, "--frobnicate"]);
  t.is(unknownFlag.exitCode, EXIT.badInput);
  t.regex(unknownFlag.stderr, /Unknown option '--frobnicate'/);
  const file = ws.writeOutputs({ prod: sampleOutputs("prod") }, "one.json");
  const unknownStack = await runRunbook(fakeRunbook(calls), [
    "--outputs",
    file,
    "--stack",
    "staging",
    "--state-dir",
    ws.stateDir,
  ]);
  t.is(unknownStack.exitCode, EXIT.badInput);
  t.regex(unknownStack.stdout, /unknown stack "staging": --outputs file ".*one\.json" holds prod/);
  const broken = sampleOutputs("prod") as unknown as Record<string, Record<string, unknown>>;
  delete broken.dns!.hostedZoneId;
  const missing = await runRunbook(fakeRunbook(calls), [
    "--outputs",
    ws.writeOutputs({ prod: broken }, "broken.json"),
    "--stack",
    "prod",
    "--state-dir",
    ws.stateDir,
  ]);
  t.is(missing.exitCode, EXIT.badInput);
  t.regex(missing.stdout, /dns\.hostedZoneId/);
  const badTime = await runRunbook(fakeRunbook(calls), [...base, "--incident-at", "yesterday"]);
  t.is(badTime.exitCode, EXIT.badInput);
  t.regex(badTime.stdout, /invalid --incident-at "yesterday": expected an ISO 8601 time with a zone/);
  const noSource = await runRunbook(fakeRunbook(calls), ["--state-dir", ws.stateDir]);
  t.is(noSource.exitCode, EXIT.badInput);
  t.regex(noSource.stdout, /give --stack <name> .* or --outputs <file\.json>/);
  t.deepEqual(calls, []);
  t.deepEqual(ws.runIds(), []);
});

test("a read-only step that refuses the input fails before any change, with exit code 2", async (t) => {
  const { base } = setup(t);
  const calls: string[] = [];
  const runbook = fakeRunbook(calls, {
    assess: {
      run: async () => {
        throw new BadInputError("primary is healthy: refusing without --force");
      },
    },
  });
  const res = await runRunbook(runbook, [...base, "--yes"]);
  t.is(res.exitCode, EXIT.badInput);
  t.regex(res.stdout, /primary is healthy/);
  t.deepEqual(calls, []);
});

test("a failing notification sink never fails the recovery", async (t) => {
  const { base } = setup(t);
  const calls: string[] = [];
  const sent: string[] = [];
  const res = await runRunbook(fakeRunbook(calls), [...base, "--yes"], {
    sinks: () => [
      publishSink("broken", async () => {
        throw new Error("topic unreachable");
      }),
      publishSink("ok", async (subject) => void sent.push(subject)),
    ],
  });
  t.is(res.exitCode, EXIT.succeeded);
  t.regex(res.stderr, /notification "started" to broken failed \(recovery continues\): topic unreachable/);
  t.is(sent.length, 2);
  t.regex(sent[0]!, /fake started on prod/);
  t.regex(sent[1]!, /fake succeeded on prod/);
});

test("notifyAll reports each sink's result without throwing", async (t) => {
  const warnings: string[] = [];
  const results = await notifyAll(
    [
      publishSink("a", async () => {
        throw new Error("boom");
      }),
      publishSink("b", async () => undefined),
    ],
    { kind: "failed", runbook: "x", runId: "r", stack: "prod", subject: "s", message: "m" },
    { info: () => undefined, warn: (m) => void warnings.push(m) },
  );
  t.deepEqual(results, [
    { sink: "a", ok: false, error: "boom" },
    { sink: "b", ok: true },
  ]);
  t.is(warnings.length, 1);
});

test("--json prints NDJSON events ending with the result", async (t) => {
  const { base } = setup(t);
  const res = await runRunbook(fakeRunbook([]), [...base, "--yes", "--json"]);
  const events = res.stdout
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l) as { event: string; report?: Report });
  t.true(events.some((e) => e.event === "step_started"));
  const last = events.at(-1)!;
  t.is(last.event, "result");
  t.is(last.report?.verdict, "objectives_met");
});

test("--help lists the common options and exit codes", async (t) => {
  const res = await runRunbook(fakeRunbook([]), ["--help"]);
  t.is(res.exitCode, EXIT.succeeded);
  for (const flag of ["--stack", "--outputs", "--dry-run", "--yes", "--resume", "--state-dir", "--json"])
    t.true(res.stdout.includes(flag), flag);
  t.regex(res.stdout, /3 succeeded but RTO\/RPO objective missed/);
});

test("the tracker is on_track, at_risk under 15 minutes left, exceeded past the RTO", (t) => {
  t.is(rtoStatus(0, 60), "on_track");
  t.is(rtoStatus(45 * 60_000, 60), "on_track");
  t.is(rtoStatus(45 * 60_000 + 1, 60), "at_risk");
  t.is(rtoStatus(60 * 60_000, 60), "at_risk");
  t.is(rtoStatus(60 * 60_000 + 1, 60), "exceeded");
  fc.assert(
    fc.property(fc.integer({ min: 16, max: 2000 }), fc.integer({ min: 0, max: 3000 * 60_000 }), (rto, elapsed) => {
      const remaining = rto * 60_000 - elapsed;
      const expected = remaining < 0 ? "exceeded" : remaining < 15 * 60_000 ? "at_risk" : "on_track";
      return rtoStatus(elapsed, rto) === expected;
    }),
  );
});

test("the tracker takes the objective from the outputs' tier and keeps the worst recovery point", (t) => {
  const outputs = sampleOutputs("prod");
  const objective = objectiveFromOutputs("media-storage", outputs);
  t.deepEqual(objective, { system: "media-storage", tier: "important", rtoMinutes: 240, rpoMinutes: 60 });
  t.throws(() => objectiveFromOutputs("mainframe", outputs), {
    message: /unknown system "mainframe": expected one of primary-database/,
  });
  const incident = new Date("2026-01-15T14:30:00Z");
  const tracker = new RecoveryTracker(objective, incident, undefined, () => new Date("2026-01-15T14:40:00Z"));
  tracker.setRecoveryPoint(new Date("2026-01-15T14:25:00Z"), "a");
  tracker.setRecoveryPoint(new Date("2026-01-15T14:28:00Z"), "b");
  tracker.milestone("x", "X");
  tracker.milestone("x", "X again");
  t.is(tracker.milestones.length, 1);
  t.is(tracker.milestones[0]!.elapsedMinutes, 10);
  const achieved = tracker.achieved(new Date("2026-01-15T15:00:00Z"));
  t.is(achieved.rpo.achievedMinutes, 5);
  t.is(achieved.rpo.source, "a");
  t.is(achieved.rto.achievedMinutes, 30);
});

test("the Mermaid gantt block escapes step titles and marks failed steps critical", (t) => {
  const report = {
    runbook: "x",
    runId: "r",
    incidentAt: "2026-01-15T14:30:00.000Z",
    finishedAt: "2026-01-15T14:40:00.000Z",
    steps: [
      {
        id: "a",
        title: "Restore: db #1; now",
        status: "succeeded",
        startedAt: "2026-01-15T14:31:00.000Z",
        endedAt: "2026-01-15T14:35:00.000Z",
      },
      {
        id: "b",
        title: "Move DNS",
        status: "failed",
        startedAt: "2026-01-15T14:35:00.000Z",
        endedAt: "2026-01-15T14:36:00.000Z",
      },
      { id: "c", title: "Never", status: "not_started", startedAt: null, endedAt: null },
    ],
  } as unknown as Report;
  const block = mermaidGantt(report);
  t.regex(block, /^```mermaid\ngantt\n/);
  t.true(
    block.includes(
      `Restore db 1 now :done, s0, ${Date.parse("2026-01-15T14:31:00Z")}, ${Date.parse("2026-01-15T14:35:00Z")}`,
    ),
  );
  t.regex(block, /Move DNS :crit, s1,/);
  t.false(block.includes("Never"));
  t.true(
    renderMarkdown({
      ...report,
      verdict: "failed",
      rto: { achievedMinutes: 10, objectiveMinutes: 60, met: true, status: "on_track" },
      rpo: { recoveryPointAt: null, source: null, achievedMinutes: null, objectiveMinutes: 15, met: null },
      milestones: [],
      nextSteps: [],
      checklist: [],
      failure: null,
    } as unknown as Report).includes("Recovery FAILED"),
  );
});

test("step definitions are checked: unknown dependency, duplicate and malformed ids", (t) => {
  const s = (id: string, dependsOn: Step["dependsOn"] = []): Step => ({
    id,
    title: id,
    dependsOn,
    describe: () => [],
    run: async () => ({}),
  });
  t.throws(() => resolveDependencies([s("a"), s("b", [{ id: "zzz" }])]), {
    message: 'step "b" depends on "zzz", which is not an earlier step',
  });
  t.throws(() => resolveDependencies([s("a"), { ...s("b"), dependsOn: undefined as never }]), {
    message: 'step "b" has no dependsOn: list the steps it needs by handle ([] for none)',
  });
  t.throws(() => resolveDependencies([s("a"), s("a")]), { message: 'step id "a" is used twice' });
  t.throws(() => resolveDependencies([s("Bad_Id")]), { message: /step id "Bad_Id" is invalid/ });
  t.deepEqual(
    [...resolveDependencies([s("a"), s("b", [{ id: "a" }]), s("c", [])]).entries()],
    [
      ["a", []],
      ["b", ["a"]],
      ["c", []],
    ],
  );
});

test("--stack reads outputs through Pulumi, and a Pulumi failure is bad input", async (t) => {
  const ws = workspace(t);
  const calls: string[] = [];
  const asked: string[] = [];
  const pulumi = async (stack: string) => {
    asked.push(stack);
    if (stack !== "prod")
      throw new BadInputError(`cannot read outputs of stack "${stack}": no stack named '${stack}' found`);
    return sampleOutputs("prod");
  };
  const ok = await runRunbook(fakeRunbook(calls), ["--stack", "prod", "--state-dir", ws.stateDir, "--yes"], { pulumi });
  t.is(ok.exitCode, EXIT.succeeded, ok.stdout);
  const bad = await runRunbook(fakeRunbook(calls), ["--stack", "staging", "--state-dir", ws.stateDir], { pulumi });
  t.is(bad.exitCode, EXIT.badInput);
  t.regex(bad.stdout, /cannot read outputs of stack "staging"/);
  t.deepEqual(asked, ["prod", "staging"]);
  const malformed = await runRunbook(fakeRunbook(calls), ["--stack", "prod; rm -rf /", "--state-dir", ws.stateDir], {
    pulumi,
  });
  t.is(malformed.exitCode, EXIT.badInput);
  t.regex(malformed.stdout, /invalid --stack "prod; rm -rf \/": expected a Pulumi stack name/);
  t.deepEqual(asked, ["prod", "staging"], "a malformed name never reaches Pulumi");
});

test("without the pulumi CLI, --stack says to use --outputs", async (t) => {
  const { pulumiStackOutput } = await import("../../runbooks/lib/outputs-loader.ts");
  const saved = process.env.PATH;
  process.env.PATH = "/nonexistent";
  t.teardown(() => void (process.env.PATH = saved));
  await t.throwsAsync(pulumiStackOutput("prod"), {
    message: 'cannot read outputs of stack "prod": the pulumi CLI is not installed; use --outputs <file.json> instead',
  });
});

test("the Slack sink posts the subject and never reveals the webhook URL", async (t) => {
  const { slackSink } = await import("../../runbooks/lib/notifications.ts");
  const posted: { url: string; body: string }[] = [];
  const fakeFetch = (async (url: URL, init: RequestInit) => {
    posted.push({ url: String(url), body: String(init.body) });
    return new Response("ok", { status: 200 });
  }) as unknown as typeof fetch;
  const sink = slackSink("https://hooks.slack.com/services/T000/B000/SECRET", fakeFetch);
  t.is(sink.name, "slack");
  await sink.send({ kind: "failed", runbook: "x", runId: "r", stack: "prod", subject: "x failed", message: "details" });
  t.is(posted[0]!.url, "https://hooks.slack.com/services/T000/B000/SECRET");
  t.deepEqual(JSON.parse(posted[0]!.body), { text: ":x: x failed\ndetails" });
  const error = t.throws(() => slackSink("http://hooks.example.com/SECRET"));
  t.false(error!.message.includes("SECRET"));
  t.regex(error!.message, /must use https/);
  const refused = slackSink(
    "https://hooks.slack.com/x",
    (async () => new Response("no", { status: 403 })) as unknown as typeof fetch,
  );
  await t.throwsAsync(
    refused.send({ kind: "started", runbook: "x", runId: "r", stack: "prod", subject: "s", message: "m" }),
    { message: "slack webhook answered HTTP 403" },
  );
});
