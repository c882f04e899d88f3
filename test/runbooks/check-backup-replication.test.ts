import test from "ava";
import { judgeReplication, runbook as checkReplication } from "../../runbooks/check-backup-replication.ts";
import { sampleOutputs } from "../../rehearsal/stand-ins/seeded-outputs.ts";
import { fixture, startFaultProxy } from "../helpers/fault-proxy.ts";
import { useMoto } from "../helpers/moto.ts";
import { runRunbook, workspace } from "../helpers/run-runbook.ts";

const moto = useMoto(test);
const NOW = new Date("2026-01-15T14:30:00Z");

test("replicated backups within the limit pass; behind it, or without a restore window, they fail with the figures", (t) => {
  t.deepEqual(judgeReplication(new Date("2026-01-15T14:21:30Z"), NOW, 15, "us-west-2"), { ok: true, lagMinutes: 8.5 });
  t.deepEqual(judgeReplication(new Date("2026-01-15T13:30:00Z"), NOW, 15, "us-west-2"), {
    ok: false,
    lagMinutes: 60,
    problem:
      "the latest restorable time in us-west-2 is 2026-01-15T13:30:00.000Z, 60 min ago: more than the 15-min limit (replication has stopped or fallen behind)",
  });
  t.false(judgeReplication(undefined, NOW, 15, "us-west-2").ok);
});

async function runAgainstRecorded(t: import("ava").ExecutionContext, latest: Date) {
  const proxy = await startFaultProxy(moto().endpoint, (req) =>
    req.action === "DescribeDBInstanceAutomatedBackups"
      ? {
          status: 200,
          body: fixture("rds-describe-db-instance-automated-backups-replicated.xml").replace(
            /<LatestTime>[^<]+<\/LatestTime>/,
            `<LatestTime>${latest.toISOString()}</LatestTime>`,
          ),
        }
      : undefined,
  );
  t.teardown(() => proxy.close());
  const ws = workspace(t);
  return runRunbook(
    checkReplication,
    ["--outputs", ws.writeOutputs(sampleOutputs("prod")), "--state-dir", ws.stateDir],
    {
      aws: { endpoint: proxy.endpoint, maxAttempts: 1 },
    },
  );
}

test.serial(
  "the check passes when the DR region's latest restorable time is recent (recorded response: moto keeps no replicated backups)",
  async (t) => {
    const r = await runAgainstRecorded(t, new Date(Date.now() - 4 * 60_000));
    t.is(r.exitCode, 0, r.message);
    t.like(r.report!.steps[0], { id: "check-replicated-backups", status: "succeeded" });
  },
);

test.serial("the check fails when replication fell behind the database's RPO (recorded response)", async (t) => {
  const r = await runAgainstRecorded(t, new Date(Date.now() - 45 * 60_000));
  t.is(r.exitCode, 1);
  t.regex(r.message, /more than the 15-min limit \(replication has stopped or fallen behind\)/);
});

test("a stack that replicates no automated backups is refused before any call", async (t) => {
  const ws = workspace(t);
  const outputs = sampleOutputs("dr");
  const r = await runRunbook(checkReplication, ["--outputs", ws.writeOutputs(outputs), "--state-dir", ws.stateDir]);
  t.is(r.exitCode, 2);
  t.regex(r.message, /stack dr replicates no automated backups \(database\.replicatedBackupsArn is null\)/);
});
