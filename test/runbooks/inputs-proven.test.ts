/**
 * Nothing changes until every input is proven (issue 22), against moto through the AWS proxy:
 * a failover record the zone does not have (with name servers listed, and with none), name
 * servers that do not answer, a connection secret that is not the JSON its step writes into, and
 * a resume with other outputs than the run started on. Each is refused with exit 2 naming the
 * bad input and what is allowed, and the emulator (all of it: moto's own dump) and the state
 * directory are exactly as before.
 */
import test, { type ExecutionContext } from "ava";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { PutSecretValueCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { RDSClient, StopDBInstanceCommand } from "@aws-sdk/client-rds";
import type { StackOutputs } from "../../contract/stack-outputs.ts";
import { runbook as regionFailover } from "../../runbooks/region-failover.ts";
import { runbook as databaseRecovery } from "../../runbooks/database-recovery.ts";
import { runbook as pitr } from "../../runbooks/point-in-time-restore.ts";
import { EXIT } from "../../runbooks/lib/errors.ts";
import { DR_REGION, PRIMARY_REGION, SOURCE_DB } from "../../rehearsal/stand-ins/aws-seed.ts";
import { awsFor } from "../helpers/moto.ts";
import { useFailoverMoto } from "../helpers/failover.ts";
import { emulatorDump } from "../helpers/emulator-state.ts";
import { runRunbook, workspace, type Workspace } from "../helpers/run-runbook.ts";
import { treeOf } from "../helpers/file-tree.ts";

const { moto, seeded, proxy, plane, state } = useFailoverMoto(test);
const c = (region: string) => ({ region, endpoint: moto().endpoint, maxAttempts: 1 });

/** The emulator and the state directory as they stand: compared before and after a refusal. */
const snapshot = async (ws: Workspace) => ({
  aws: await state(),
  all: await emulatorDump(moto().endpoint),
  files: treeOf(ws.dir),
});

/** Runs `argv` and asserts: exit 2, every pattern in the output, no resume hint, nothing changed. */
async function refused(
  t: ExecutionContext,
  ws: Workspace,
  run: () => Promise<{ exitCode: number; stdout: string; stderr: string }>,
  expect: RegExp[],
): Promise<string> {
  const before = await snapshot(ws);
  const res = await run();
  t.is(res.exitCode, EXIT.badInput, res.stdout + res.stderr.slice(-2000));
  for (const e of expect) t.regex(res.stdout, e);
  t.notRegex(res.stdout, /Fix the cause, then resume/, "a refusal is not a failure to resume");
  t.deepEqual(await snapshot(ws), before, "the emulator and the state directory are exactly as before");
  return res.stdout;
}

const staleRecord = (s: { prod: StackOutputs; dr: StackOutputs }, nameServers?: string[]) => {
  const dns = { ...s.prod.dns, recordName: "www.eventchain.com" };
  const fo = (o: StackOutputs) => ({ ...o.failover, ...(nameServers ? { nameServers } : {}) });
  return { prod: { ...s.prod, dns, failover: fo(s.prod) }, dr: { ...s.dr, dns, failover: fo(s.dr) } };
};

const failover = async (t: ExecutionContext, ws: Workspace, file: string, extra: string[] = []) => {
  const p = await proxy(t);
  return runRunbook(
    regionFailover,
    ["--outputs", file, "--stack", "prod", "--state-dir", ws.stateDir, "--yes", "--force", ...extra],
    { aws: awsFor(p.endpoint) },
  );
};

test.serial(
  "a failover record the zone does not have is refused before any change (name servers listed)",
  async (t) => {
    const ws = workspace(t);
    const file = ws.writeOutputs(staleRecord(seeded()));
    await refused(t, ws, () => failover(t, ws, file, ["--health-attempts", "1"]), [
      /- CNAME record www\.eventchain\.com \(set primary\) in hosted zone \S+: does not exist: the switch steers an existing failover record and the runbooks never create one/,
    ]);
  },
);

test.serial("with no name server listed the record cannot be proved: refused, not warned about", async (t) => {
  const ws = workspace(t);
  const file = ws.writeOutputs(staleRecord(seeded(), []));
  await refused(t, ws, () => failover(t, ws, file, ["--health-attempts", "1"]), [
    /- CNAME record www\.eventchain\.com \(set primary\) in hosted zone \S+: cannot be proved: the outputs list no authoritative name server \(failover\.nameServers\)/,
    /preflight of region-failover found 1 gap\(s\)/,
  ]);
});

test.serial(
  "name servers that do not answer leave the record unproven: refused unless --unproven-record",
  async (t) => {
    const ws = workspace(t);
    const file = ws.writeOutputs(seeded().file);
    plane().dns.setSilent(true);
    t.teardown(() => plane().dns.setSilent(false));
    await refused(t, ws, () => failover(t, ws, file, ["--health-attempts", "1"]), [
      /: is unproven: no authoritative name server answered within 3 s \(127\.0\.0\.1:\d+: [^)]*\)\. Check the name servers in failover\.nameServers; to fail over without this proof, add --unproven-record \(logged\)/,
    ]);
    // The explicit option lets the preflight pass, and says so (a dry run: nothing changes either way).
    const p = await proxy(t);
    const res = await runRunbook(
      regionFailover,
      ["--outputs", file, "--stack", "prod", "--state-dir", ws.stateDir, "--dry-run", "--force", "--unproven-record"],
      { aws: awsFor(p.endpoint) },
    );
    t.is(res.exitCode, EXIT.succeeded, res.stdout + res.stderr);
    t.regex(res.stderr, /WARNING: preflight: the failover record is UNPROVEN .*going on because of --unproven-record/);
  },
);

test.serial(
  "a connection secret that is not JSON is refused before database-recovery creates an instance",
  async (t) => {
    await new RDSClient(c(PRIMARY_REGION)).send(new StopDBInstanceCommand({ DBInstanceIdentifier: SOURCE_DB }));
    const sm = new SecretsManagerClient(c(PRIMARY_REGION));
    const ws = workspace(t);
    const file = ws.writeOutputs(seeded().file);
    for (const [value, why] of [
      [
        "host=db.internal port=5432",
        /is not JSON: expected a JSON object such as \{"host": …, "port": 5432, "dbname": …\} \(value not shown\)/,
      ],
      ['["db.internal", 5432]', /is JSON but not an object \(an array\)/],
      ['{"host": 42}', /has fields of the wrong type \(host is not a string\)/],
    ] as const) {
      await sm.send(
        new PutSecretValueCommand({ SecretId: seeded().prod.database.appConnectionSecretArn, SecretString: value }),
      );
      const out = await refused(
        t,
        ws,
        () =>
          runRunbook(
            databaseRecovery,
            [
              "--outputs",
              file,
              "--stack",
              "prod",
              "--state-dir",
              ws.stateDir,
              "--yes",
              "--force",
              "--health-attempts",
              "1",
            ],
            { aws: awsFor(moto().endpoint) },
          ),
        [
          new RegExp(
            `- connection secret ${seeded().prod.database.appConnectionSecretArn.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")}: ${why.source}`,
          ),
        ],
      );
      t.false(out.includes("db.internal"), "the secret's value is never shown");
    }
  },
);

test.serial("region-failover refuses a DR connection secret that is not JSON before restoring anything", async (t) => {
  await new SecretsManagerClient(c(DR_REGION)).send(
    new PutSecretValueCommand({ SecretId: seeded().dr.database.appConnectionSecretArn, SecretString: "not json" }),
  );
  const ws = workspace(t);
  const file = ws.writeOutputs(seeded().file);
  await refused(t, ws, () => failover(t, ws, file, ["--health-attempts", "1"]), [
    /- connection secret arn:aws:secretsmanager:us-west-2:\S+: is not JSON/,
  ]);
});

test.serial(
  "a failover stopped after restoring the DR database is not resumed with outputs naming another DR instance",
  async (t) => {
    const ws = workspace(t);
    const file = ws.writeOutputs(seeded().file);
    const p = await proxy(t);
    const aws = { aws: awsFor(p.endpoint) };
    const base = ["--stack", "prod", "--state-dir", ws.stateDir, "--force", "--health-attempts", "1"];
    // No terminal, no --yes: it restores, scales and repoints, then stops before engaging the switch.
    const first = await runRunbook(regionFailover, ["--outputs", file, ...base], aws);
    t.is(first.exitCode, EXIT.stopped, first.stdout);
    const runId = first.runId!;
    t.is(ws.journal(runId).steps["restore-database"]?.status, "succeeded");
    const journalBefore = readFileSync(join(ws.stateDir, runId, "journal.json"), "utf8");

    const other = seeded().file as Record<string, StackOutputs>;
    const moved = ws.writeOutputs(
      { ...other, dr: { ...other.dr!, database: { ...other.dr!.database, instanceIdentifier: "eventchain-dr-db-2" } } },
      "other-outputs.json",
    );
    const out = await refused(
      t,
      ws,
      () => runRunbook(regionFailover, ["--outputs", moved, ...base, "--resume", runId, "--yes"], aws),
      [
        new RegExp(
          `resuming run ${runId} with other inputs than it started with \\(1 difference\\(s\\)\\); nothing was changed:`,
        ),
        /- outputs of peer dr: database\.instanceIdentifier was "eventchain-dr-db", now "eventchain-dr-db-2"/,
        /add --accept-changed-inputs \(logged\)/,
      ],
    );
    t.false(out.includes("waiting"), "it waited on nothing");
    t.is(readFileSync(join(ws.stateDir, runId, "journal.json"), "utf8"), journalBefore, "its journal is untouched");

    // A runbook option other than the run's is refused the same way.
    await refused(
      t,
      ws,
      () => runRunbook(regionFailover, ["--outputs", file, ...base, "--resume", runId, "--max-wait-minutes", "5"], aws),
      [/- --max-wait-minutes was "\(not given\)", now "5"/],
    );

    // The same outputs in another file are the same inputs: the resume goes on and finishes the run.
    const copy = ws.writeOutputs(seeded().file, "copy-of-outputs.json");
    const done = await runRunbook(regionFailover, ["--outputs", copy, ...base, "--resume", runId, "--yes"], aws);
    t.true(([EXIT.succeeded, EXIT.succeededWithCaveat] as number[]).includes(done.exitCode), done.stdout);
  },
);

test.serial("--accept-changed-inputs resumes with the new outputs, logs each difference and records it", async (t) => {
  const ws = workspace(t);
  const file = ws.writeOutputs(seeded().file);
  const p = await proxy(t);
  const aws = { aws: awsFor(p.endpoint) };
  const base = ["--stack", "prod", "--state-dir", ws.stateDir, "--force", "--health-attempts", "1"];
  const first = await runRunbook(regionFailover, ["--outputs", file, ...base], aws);
  t.is(first.exitCode, EXIT.stopped, first.stdout);
  const other = seeded().file as Record<string, StackOutputs>;
  const changed = ws.writeOutputs(
    { ...other, dr: { ...other.dr!, dns: { ...other.dr!.dns, ttl: other.dr!.dns.ttl + 1 } } },
    "redeployed.json",
  );
  const res = await runRunbook(
    regionFailover,
    ["--outputs", changed, ...base, "--resume", first.runId!, "--dry-run", "--accept-changed-inputs"],
    aws,
  );
  t.is(res.exitCode, EXIT.succeeded, res.stdout + res.stderr);
  t.regex(
    res.stderr,
    /WARNING: resuming run \S+ with changed inputs, because of --accept-changed-inputs:\n {2}- outputs of peer dr: dns\.ttl was 2, now 3/,
  );
});

test.serial(
  "a point-in-time restore refused for its input leaves no run, so no resume restores anything with other outputs",
  async (t) => {
    const ws = workspace(t);
    const s = seeded();
    const aws = { aws: awsFor(moto().endpoint) };
    // Stale outputs: the preflight refuses before the lock and the journal, so there is no run to resume.
    const stale = ws.writeOutputs(
      {
        ...s.file,
        prod: { ...s.prod, database: { ...s.prod.database, instanceIdentifier: "eventchain-prod-db-gone" } },
      },
      "stale.json",
    );
    const before = await snapshot(ws);
    const refusedEarly = await runRunbook(
      pitr,
      ["--outputs", stale, "--stack", "prod", "--state-dir", ws.stateDir, "--time", "latest", "--yes"],
      aws,
    );
    t.is(refusedEarly.exitCode, EXIT.badInput, refusedEarly.stdout);
    t.regex(refusedEarly.stdout, /preflight of point-in-time-restore found \d+ gap\(s\)/);
    t.deepEqual(await snapshot(ws), before, "no lock, no journal, no report: nothing was written");
    // A time outside the window: refused by its read-only step, also before the journal.
    const good = ws.writeOutputs(s.file, "good.json");
    const first = await runRunbook(
      pitr,
      [
        "--outputs",
        good,
        "--stack",
        "prod",
        "--state-dir",
        ws.stateDir,
        "--time",
        "2001-01-01T00:00:00Z",
        "--yes",
        "--run-id",
        "pitr-refused",
      ],
      aws,
    );
    t.is(first.exitCode, EXIT.badInput, first.stdout);
    t.regex(
      first.stdout,
      /point-in-time-restore REFUSED at step "check-window": .*Correct the input and start a new run/,
    );
    t.deepEqual(ws.runIds(), [], "no journal: there is no run to resume");
    // So a resume with other outputs has nothing to act on: refused, nothing restored.
    const other = ws.writeOutputs({ ...s.file, prod: { ...s.prod, dns: { ...s.prod.dns, ttl: 30 } } }, "other.json");
    await refused(
      t,
      ws,
      () =>
        runRunbook(
          pitr,
          ["--outputs", other, "--stack", "prod", "--state-dir", ws.stateDir, "--resume", "pitr-refused", "--yes"],
          aws,
        ),
      [
        /no journal for run id "pitr-refused" in \S+ nor in the shared store s3:\/\/\S+ .*: check the run id and the stack/,
      ],
    );
  },
);
