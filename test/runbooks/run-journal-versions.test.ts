/**
 * A journal that does not pile up: a region-failover against moto leaves a bounded number of
 * object versions in the journal bucket (no Object Lock there; its lifecycle expires replaced
 * versions, test/infra/run-journal-bucket.test.ts), and its report states how many it wrote. The
 * lock's heartbeat writes one version per heartbeat interval and none more, on a simulated clock.
 */
import test from "ava";
import { ListObjectVersionsCommand } from "@aws-sdk/client-s3";
import { runbook as regionFailover } from "../../runbooks/region-failover.ts";
import { BackupS3Client } from "../../runbooks/aws/s3-object.ts";
import { EXIT } from "../../runbooks/lib/errors.ts";
import { HEARTBEAT_MS, RunLock, SILENT_AFTER_MS } from "../../runbooks/lib/run-lock.ts";
import { ReliableStore, type RunStore } from "../../runbooks/lib/run-store.ts";
import { DR_REGION } from "../../rehearsal/stand-ins/aws-seed.ts";
import { RUN_JOURNAL_BUCKET } from "../../rehearsal/stand-ins/seeded-outputs.ts";
import { useFailoverMoto } from "../helpers/failover.ts";
import { awsFor } from "../helpers/moto.ts";
import { runRunbook, workspace } from "../helpers/run-runbook.ts";
import { fixture } from "../helpers/fault-proxy.ts";

const { moto, seeded, proxy } = useFailoverMoto(test);

const endpointFailing = (r: { service: string; action: string }) =>
  r.service === "route53" && r.action.includes("/status")
    ? { status: 200, body: fixture("route53-get-health-check-status-failing.xml") }
    : undefined;

async function versionsUnder(prefix: string): Promise<number> {
  const s3 = new BackupS3Client({ region: DR_REGION, endpoint: moto().endpoint, maxAttempts: 1 });
  let n = 0;
  let KeyMarker: string | undefined;
  let VersionIdMarker: string | undefined;
  for (;;) {
    const r = await s3.send(
      new ListObjectVersionsCommand({ Bucket: RUN_JOURNAL_BUCKET, Prefix: prefix, KeyMarker, VersionIdMarker }),
    );
    n += (r.Versions ?? []).length;
    if (!r.IsTruncated) return n;
    KeyMarker = r.NextKeyMarker;
    VersionIdMarker = r.NextVersionIdMarker;
  }
}

test.serial(
  "a failover leaves the versions its report states, and no more than its steps and heartbeats need",
  async (t) => {
    const ws = workspace(t);
    const p = await proxy(t, endpointFailing);
    const started = Date.now();
    const res = await runRunbook(
      regionFailover,
      [
        "--outputs",
        ws.writeOutputs(seeded().file),
        "--stack",
        "prod",
        "--state-dir",
        ws.stateDir,
        "--yes",
        "--run-id",
        "fo1",
        "--health-attempts",
        "1",
      ],
      { aws: awsFor(p.endpoint) },
    );
    const elapsed = Date.now() - started;
    t.is(res.exitCode, EXIT.succeeded, res.stdout + res.stderr);
    const v = res.report!.journal!.versionsWritten!;
    t.truthy(v, "the report states the versions written");
    // Before the report: the lock's acquisition and heartbeats, every journal copy; after it: the
    // report copy and the lock's release.
    t.is(
      await versionsUnder("runs/"),
      v.total + 2,
      "what the bucket holds is what the report states, plus the report and the release",
    );
    t.is(v.report, 0);
    t.true(v.lock <= 1 + Math.ceil(elapsed / HEARTBEAT_MS), `lock versions ${v.lock} for a ${elapsed} ms run`);
    const steps = Object.keys(ws.journal("fo1").steps).length;
    t.true(
      v.journal <= 2 + 3 * steps,
      `journal versions ${v.journal} for ${steps} steps (a start, an end and at most a note each, coalesced)`,
    );
    t.regex(
      res.stdout + (await import("node:fs")).readFileSync(res.reportPaths!.markdown, "utf8"),
      new RegExp(`this run wrote ${v.total} object version\\(s\\) before this report`),
    );
  },
);

/** An in-memory run store counting what is written (the lock's heartbeat, on a simulated clock). */
function memoryStore(): RunStore {
  const objects = new Map<string, { body: string; etag: string }>();
  let n = 0;
  return {
    location: "memory",
    async get(key) {
      return objects.get(key);
    },
    async create(key, body) {
      const etag = String(++n);
      objects.set(key, { body, etag });
      return etag;
    },
    async replace(key, body) {
      const etag = String(++n);
      objects.set(key, { body, etag });
      return etag;
    },
    async put(key, body) {
      objects.set(key, { body, etag: String(++n) });
    },
  };
}

test("the lock's heartbeat writes one version per interval: five in a silence window, and none when asked again at once", async (t) => {
  let now = Date.parse("2026-12-07T10:00:00Z");
  const store = new ReliableStore(memoryStore(), {
    maxAttempts: 1,
    baseMs: 1,
    capMs: 1,
    budgetMs: 1000,
    callTimeoutMs: 5000,
  });
  const lock = await RunLock.acquire({
    runbook: "region-failover",
    stack: "prod",
    store,
    runId: "r1",
    startedAt: new Date(now).toISOString(),
    takeOver: false,
    log: { info: () => undefined, warn: () => undefined },
    now: () => new Date(now),
    onLost: () => undefined,
  });
  t.is(store.versionsWritten().lock, 1, "acquired");
  await lock.heartbeat();
  t.is(store.versionsWritten().lock, 1, "a heartbeat right after a write writes nothing");
  for (let at = HEARTBEAT_MS; at <= SILENT_AFTER_MS; at += HEARTBEAT_MS) {
    now += HEARTBEAT_MS;
    await lock.heartbeat();
  }
  t.is(store.versionsWritten().lock, 1 + SILENT_AFTER_MS / HEARTBEAT_MS);
  t.is(SILENT_AFTER_MS / HEARTBEAT_MS, 5, "four heartbeats may be lost before anyone may take over");
  await lock.release("succeeded", false);
  t.is(store.versionsWritten().lock, 2 + SILENT_AFTER_MS / HEARTBEAT_MS);
});
