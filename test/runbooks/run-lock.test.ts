/**
 * One run at a time, resumable from any machine: the run lock and the shared journal in the DR
 * backup bucket (S3 conditional writes against moto). Another machine is stood in for by another
 * state directory, and, where the lock must name a different host, by a lock record written as
 * that machine would have written it.
 */
import test, { type ExecutionContext } from "ava";
import { GetObjectCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { hostname } from "node:os";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { runbook as regionFailover } from "../../runbooks/region-failover.ts";
import { s3RunStore } from "../../runbooks/aws/journal-store.ts";
import { BackupS3Client } from "../../runbooks/aws/s3-object.ts";
import { BadInputError, EXIT } from "../../runbooks/lib/errors.ts";
import type { LockRecord } from "../../runbooks/lib/run-lock.ts";
import type { Runbook, Step } from "../../runbooks/lib/types.ts";
import { DR_REGION } from "../../rehearsal/stand-ins/aws-seed.ts";
import { RUN_JOURNAL_BUCKET } from "../../rehearsal/stand-ins/seeded-outputs.ts";
import { awsFor, useSeededMoto } from "../helpers/moto.ts";
import { runRunbook, workspace } from "../helpers/run-runbook.ts";
import { primaryDown as primaryDownRule, proxyFor } from "../helpers/failed-over.ts";

const { moto, seeded, state } = useSeededMoto(test);
const s3 = () => new BackupS3Client({ region: DR_REGION, endpoint: moto().endpoint, maxAttempts: 1 });
// region-failover shares the "traffic" lock scope (with failback, fence-primary …): one lock for the stack pair.
const lockKey = (runbook: string) =>
  runbook === regionFailover.name ? "runs/scopes/traffic/dr+prod/lock.json" : `runs/${runbook}/prod/lock.json`;

async function readObject(key: string): Promise<string | undefined> {
  try {
    const res = await s3().send(new GetObjectCommand({ Bucket: RUN_JOURNAL_BUCKET, Key: key }));
    return await res.Body!.transformToString();
  } catch {
    return undefined;
  }
}
const readLock = async (runbook: string) => JSON.parse((await readObject(lockKey(runbook)))!) as LockRecord;

/** A lock as a run on another machine would hold it, its last heartbeat `silentMinutes` ago. */
async function heldElsewhere(runbook: string, silentMinutes: number, runId = "region-failover-alice-1") {
  const at = new Date(Date.now() - silentMinutes * 60_000).toISOString();
  const lock: LockRecord = {
    version: 1,
    runbook,
    stack: "prod",
    ...(runbook === regionFailover.name ? { scope: "traffic" } : {}),
    runId,
    host: "laptop-of-alice",
    pid: 4242,
    user: "alice",
    startedAt: new Date(Date.now() - (silentMinutes + 10) * 60_000).toISOString(),
    heartbeatAt: at,
    state: "held",
  };
  await s3().send(
    new PutObjectCommand({ Bucket: RUN_JOURNAL_BUCKET, Key: lockKey(runbook), Body: JSON.stringify(lock) }),
  );
  return lock;
}

const primaryDown = (t: ExecutionContext) => proxyFor(t, moto().endpoint, primaryDownRule);

/** A machine: its own state directory, the same outputs file. */
function machine(t: ExecutionContext, file?: string) {
  const ws = workspace(t);
  const outputs = file ?? ws.writeOutputs(seeded().file);
  return { ws, outputs, base: ["--outputs", outputs, "--stack", "prod", "--state-dir", ws.stateDir] };
}

test.serial(
  "two region-failover runs started together: exactly one acts, the other names it and changes nothing",
  async (t) => {
    const proxy = await primaryDown(t);
    const a = machine(t);
    const b = machine(t, a.outputs);
    const restoresBefore = proxy.seen.filter((r) => r.action === "RestoreDBInstanceFromDBSnapshot").length;
    const [ra, rb] = await Promise.all(
      [a, b].map((m, i) =>
        runRunbook(regionFailover, [...m.base, "--yes", "--run-id", `together-${i}`, "--health-attempts", "1"], {
          aws: awsFor(proxy.endpoint),
        }),
      ),
    );
    const results = [ra!, rb!];
    t.deepEqual(
      results.map((r) => r.exitCode).sort(),
      [EXIT.badInput, EXIT.succeededWithCaveat],
      results.map((r) => r.stdout).join("\n"),
    );
    const winner = results.findIndex((r) => r.exitCode === EXIT.succeededWithCaveat);
    const loser = results[1 - winner]!;
    t.regex(
      loser.stdout,
      new RegExp(
        `another run holds the lock of the "traffic" scope on stacks dr\\+prod: region-failover run ` +
          `together-${winner} \\(stack prod\\) on host ${hostname()} \\(pid ${process.pid}, .*\\), started ` +
          `\\S+Z, last heartbeat \\S+Z \\(\\d+ s ago\\)\\. Only one run at a time`,
      ),
    );
    t.deepEqual([a, b][1 - winner]!.ws.runIds(), [], "the refused run left no journal");
    t.is(proxy.seen.filter((r) => r.action === "RestoreDBInstanceFromDBSnapshot").length - restoresBefore, 1);
    const lock = await readLock("region-failover");
    t.like(lock, { runId: `together-${winner}`, state: "released", status: "succeeded" });
  },
);

test.serial(
  "a run in progress elsewhere refuses a second one, even with --take-over, and nothing changes",
  async (t) => {
    const proxy = await primaryDown(t);
    const { ws, base } = machine(t);
    const holder = await heldElsewhere("region-failover", 1);
    const before = await state();
    for (const extra of [[], ["--take-over"]]) {
      const res = await runRunbook(regionFailover, [...base, "--yes", ...extra], { aws: awsFor(proxy.endpoint) });
      t.is(res.exitCode, EXIT.badInput);
      t.regex(
        res.stdout,
        new RegExp(
          `another run holds the lock of the "traffic" scope on stacks dr\\+prod: region-failover run ` +
            `${holder.runId} \\(stack prod\\) on host laptop-of-alice \\(pid 4242, user alice\\), started ` +
            `${holder.startedAt}, last heartbeat ${holder.heartbeatAt} \\(6\\d s ago\\)`,
        ),
      );
      // A dead run never ends: the refusal says when --take-over becomes allowed (last heartbeat + 5 min).
      const allowedAt = new Date(Date.parse(holder.heartbeatAt) + 5 * 60_000).toISOString();
      t.true(
        res.stdout.includes(
          `If its machine is gone (the run is dead and will never end), --take-over is allowed once it has been silent for 5 min: from ${allowedAt} (its last heartbeat was ${holder.heartbeatAt}) unless it writes one again.`,
        ),
        res.stdout,
      );
    }
    t.deepEqual(await state(), before);
    t.deepEqual(ws.runIds(), []);
    t.deepEqual(await readLock("region-failover"), holder, "the holder's lock is untouched");
    const dry = await runRunbook(regionFailover, [...base, "--dry-run"], { aws: awsFor(proxy.endpoint) });
    t.is(dry.exitCode, EXIT.succeeded);
    t.regex(
      dry.stderr,
      /a real run would be refused now: region-failover run region-failover-alice-1 \(stack prod\) on host laptop-of-alice/,
    );
  },
);

test.serial(
  "a holder silent for longer than five minutes is taken over only with --take-over, and that is logged",
  async (t) => {
    const proxy = await primaryDown(t);
    const { base } = machine(t);
    const holder = await heldElsewhere("region-failover", 6);
    const refused = await runRunbook(regionFailover, [...base, "--yes"], { aws: awsFor(proxy.endpoint) });
    t.is(refused.exitCode, EXIT.badInput);
    t.regex(
      refused.stdout,
      /silent for longer than 5 min\. If that machine is gone, take over with --take-over \(logged\); to continue its work instead: --resume region-failover-alice-1 --take-over/,
    );
    const taken = await runRunbook(
      regionFailover,
      [...base, "--yes", "--take-over", "--run-id", "bob-1", "--health-attempts", "1"],
      {
        aws: awsFor(proxy.endpoint),
      },
    );
    t.is(taken.exitCode, EXIT.succeededWithCaveat, taken.stdout + taken.stderr);
    t.regex(
      taken.stderr,
      /TAKING OVER the run lock of the "traffic" scope on stacks dr\+prod from region-failover run region-failover-alice-1 \(stack prod\) on host laptop-of-alice .* because of --take-over/,
    );
    t.like(await readLock("region-failover"), {
      runId: "bob-1",
      state: "released",
      takenOverFrom: { runId: holder.runId, host: "laptop-of-alice", pid: 4242, heartbeatAt: holder.heartbeatAt },
    });
  },
);

test.serial(
  "--resume from another machine continues the run from the shared journal without repeating its steps",
  async (t) => {
    const proxy = await primaryDown(t);
    const first = machine(t);
    const stopped = await runRunbook(
      regionFailover,
      [...first.base, "--run-id", "fo-shared", "--health-attempts", "1"],
      {
        aws: awsFor(proxy.endpoint),
      },
    );
    t.is(stopped.exitCode, EXIT.stopped, "stopped before moving DNS: no terminal, no --yes");
    const other = machine(t, first.outputs);
    const bare = await runRunbook(
      regionFailover,
      ["--resume", "fo-shared", "--state-dir", other.ws.stateDir, "--yes"],
      {
        aws: awsFor(proxy.endpoint),
      },
    );
    t.is(bare.exitCode, EXIT.badInput);
    t.regex(bare.stdout, /to resume a run started on another machine, give --stack <name> \(or --outputs <file>\) too/);
    const resumed = await runRunbook(regionFailover, [...other.base, "--resume", "fo-shared", "--yes"], {
      aws: awsFor(proxy.endpoint),
    });
    t.is(resumed.exitCode, EXIT.succeededWithCaveat, resumed.stdout + resumed.stderr);
    t.regex(resumed.stderr, /resuming from the shared journal in s3:\/\/eventchain-backups-dr\/runs\/ \(us-west-2\)/);
    const journal = other.ws.journal("fo-shared");
    for (const id of ["restore-database", "scale-services", "point-dr-app"]) t.is(journal.steps[id]!.attempts, 1, id);
    t.is(journal.steps["engage-switch"]!.status, "succeeded");
    // The first machine's copy is behind, the shared one has the end of the run.
    t.is(first.ws.journal("fo-shared").status, "stopped");
    t.is(
      (JSON.parse((await readObject("runs/region-failover/prod/fo-shared/journal.json"))!) as { status: string })
        .status,
      "succeeded",
    );
    t.truthy(await readObject("runs/region-failover/prod/fo-shared/report.json"));
    // Resuming the finished run from a third machine returns its report.
    const third = machine(t, first.outputs);
    const again = await runRunbook(regionFailover, [...third.base, "--resume", "fo-shared"], {
      aws: awsFor(proxy.endpoint),
    });
    t.is(again.exitCode, EXIT.succeededWithCaveat, again.stdout);
    t.regex(again.stdout, /region-failover run fo-shared had already succeeded/);
  },
);

/** first → second → third; first can be made to do something to the shared store. */
function sharedRunbook(calls: string[], first: Step["run"]): Runbook {
  const mk = (id: string, dependsOn: Step[], run?: Step["run"]): Step => ({
    id,
    title: `Do ${id}`,
    dependsOn,
    describe: () => [],
    run:
      run ??
      (async () => {
        calls.push(id);
        return {};
      }),
  });
  const a = mk("first", [], first);
  const b = mk("second", [a]);
  const c = mk("third", [b]);
  return { name: "shared-fake", summary: "fake", system: "core-api", sharedStore: s3RunStore, steps: [a, b, c] };
}

test.serial("a run taken over by another machine stops at its next write and starts no new step", async (t) => {
  const { base } = machine(t);
  const calls: string[] = [];
  const runbook = sharedRunbook(calls, async () => {
    calls.push("first");
    // Meanwhile another machine took the run over and wrote the shared journal.
    await s3().send(
      new PutObjectCommand({
        Bucket: RUN_JOURNAL_BUCKET,
        Key: "runs/shared-fake/prod/taken-1/journal.json",
        Body: "{}",
      }),
    );
    return {};
  });
  const res = await runRunbook(runbook, [...base, "--run-id", "taken-1"], { aws: awsFor(moto().endpoint) });
  t.is(res.exitCode, EXIT.interrupted, res.stdout + res.stderr);
  t.deepEqual(calls, ["first"], "no step started after the takeover");
  t.regex(
    res.stdout,
    /was written by another machine \(the run was taken over\): this process stops and starts no new step/,
  );
  t.is(res.report?.failure?.resumeCommand, null, "this machine must not resume it");
});

test.serial("the same run resumed on the same host after its process died needs no --take-over", async (t) => {
  const { base } = machine(t);
  const calls: string[] = [];
  const runbook = sharedRunbook(calls, async () => {
    calls.push("first");
    throw new Error("the laptop's process died here");
  });
  const first = await runRunbook(runbook, [...base, "--run-id", "same-1"], { aws: awsFor(moto().endpoint) });
  t.is(first.exitCode, EXIT.failed);
  const lock = await readLock("shared-fake");
  const fixed = sharedRunbook(calls, async () => {
    calls.push("first");
    return {};
  });
  // Held by the same run on another host, with a fresh heartbeat: that process may still be running.
  await heldElsewhere("shared-fake", 0.5, "same-1");
  const elsewhere = await runRunbook(fixed, [...base, "--resume", "same-1"], { aws: awsFor(moto().endpoint) });
  t.is(elsewhere.exitCode, EXIT.badInput);
  t.regex(
    elsewhere.stdout,
    /another run holds the lock of shared-fake on stack prod: run same-1 on host laptop-of-alice/,
  );
  // Held as a killed process leaves it: this host, a pid that no longer exists.
  await s3().send(
    new PutObjectCommand({
      Bucket: RUN_JOURNAL_BUCKET,
      Key: lockKey("shared-fake"),
      Body: JSON.stringify({ ...lock, state: "held", pid: 2 ** 22 + 17, status: undefined }),
    }),
  );
  const resumed = await runRunbook(fixed, [...base, "--resume", "same-1"], { aws: awsFor(moto().endpoint) });
  t.is(resumed.exitCode, EXIT.succeeded, resumed.stdout + resumed.stderr);
  t.regex(resumed.stderr, /continuing run same-1: its previous process \(pid \d+ on this host\) is gone/);
  t.deepEqual(calls, ["first", "first", "second", "third"]);
});

test.serial("without a reachable bucket the local journal alone is used, and the report says so", async (t) => {
  const ws = workspace(t);
  const offline = {
    prod: { ...seeded().prod, runJournal: { ...seeded().prod.runJournal, bucketName: "eventchain-backups-gone" } },
    dr: seeded().dr,
  };
  const calls: string[] = [];
  const res = await runRunbook(
    sharedRunbook(calls, async () => {
      calls.push("first");
      return {};
    }),
    ["--outputs", ws.writeOutputs(offline), "--stack", "prod", "--state-dir", ws.stateDir, "--run-id", "off-1"],
    { aws: awsFor(moto().endpoint) },
  );
  t.is(res.exitCode, EXIT.succeeded, res.stdout + res.stderr);
  t.deepEqual(calls, ["first", "second", "third"]);
  t.regex(
    res.stderr,
    /shared store s3:\/\/eventchain-backups-gone\/runs\/ \(us-west-2\) unreachable \(NoSuchBucket: The specified bucket does not exist \(HTTP 404\)\): local journal only, no run lock, no resume from another machine/,
  );
  t.like(res.report?.journal, { local: join(ws.stateDir, "off-1", "journal.json"), shared: null });
  t.regex(res.report!.journal!.note!, /unreachable/);
  t.regex(
    readFileSync(join(ws.stateDir, "off-1", "report.md"), "utf8"),
    /Journal: `.*journal\.json` only \(local: no run lock, not resumable from another machine\)/,
  );
});

test.serial("a new run after a failed one is told how to resume it; after a refusal it is not", async (t) => {
  const { base } = machine(t);
  const calls: string[] = [];
  const failing = sharedRunbook(calls, async () => {
    throw new Error("throttled for too long");
  });
  t.is(
    (await runRunbook(failing, [...base, "--run-id", "prev-1"], { aws: awsFor(moto().endpoint) })).exitCode,
    EXIT.failed,
  );
  const ok = sharedRunbook(calls, async () => ({}));
  const next = await runRunbook(ok, [...base, "--run-id", "next-1"], { aws: awsFor(moto().endpoint) });
  t.regex(
    next.stderr,
    /the previous run prev-1 \(host \S+\) ended failed; to continue it instead of starting anew: --resume prev-1/,
  );
  const refusing = sharedRunbook(calls, async () => {
    throw new BadInputError("restore time outside the window");
  });
  t.is(
    (await runRunbook(refusing, [...base, "--run-id", "prev-2"], { aws: awsFor(moto().endpoint) })).exitCode,
    EXIT.badInput,
  );
  const after = await runRunbook(ok, [...base, "--run-id", "next-2"], { aws: awsFor(moto().endpoint) });
  t.is(after.exitCode, EXIT.succeeded);
  t.notRegex(after.stderr, /--resume prev-2/);
});
