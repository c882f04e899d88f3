import test from "ava";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { CreateBucketCommand, ListObjectsV2Command } from "@aws-sdk/client-s3";
import { CreateSecretCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { localOutputs } from "../../rehearsal/stand-ins/local-outputs.ts";
import { BackupS3Client } from "../../runbooks/aws/s3-object.ts";
import { runbook as backupDatabase } from "../../runbooks/backup-database.ts";
import { runbook as verifyBackup } from "../../runbooks/verify-backup.ts";
import type { LocalPostgres } from "../../runbooks/postgres/cluster.ts";
import { masterOf, startPostgres } from "../../rehearsal/stand-ins/postgres.ts";
import type { Notification } from "../../runbooks/lib/notifications.ts";
import { useMoto } from "../helpers/moto.ts";
import { seededDatabase } from "../helpers/postgres.ts";
import { runRunbook, workspace, type Workspace } from "../helpers/run-runbook.ts";

// The "stack database" here is a local server without TLS: opt out explicitly, as the runbook
// requires (against RDS it verifies TLS with PGSSLROOTCERT; see connection.test.ts).
process.env.PGSSLMODE = "disable";
delete process.env.PGSSLROOTCERT;

const moto = useMoto(test);
let n = 0;
// One server for the file; each test has its own bucket, secret and workspace.
let shared: LocalPostgres | undefined;
test.before(async () => {
  shared = masterOf(await startPostgres());
  await seededDatabase(shared, "eventchain", 0.05);
});
test.after.always(() => shared?.destroy());

async function setup(t: Parameters<typeof workspace>[0], secretString?: (password: string) => string) {
  const id = ++n;
  const ws = workspace(t);
  const server = shared!;
  const endpoint = moto().endpoint;
  const s3 = new BackupS3Client({ region: "us-east-1", endpoint, maxAttempts: 1 });
  const bucket = `dbrb-${process.pid}-${id}`;
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  // The RDS-managed master secret, as Secrets Manager holds it.
  const sm = new SecretsManagerClient({ region: "us-east-1", endpoint, maxAttempts: 1 });
  const conn = server.connection();
  const secret = await sm.send(
    new CreateSecretCommand({
      Name: `rds-master-${process.pid}-${id}`,
      SecretString: secretString
        ? secretString(conn.password)
        : JSON.stringify({ username: conn.user, password: conn.password }),
    }),
  );
  const outputs = localOutputs({
    instanceIdentifier: "test-primary",
    dbName: "eventchain",
    port: server.port,
    bucketName: bucket,
  });
  outputs.database.masterSecretArn = secret.ARN!;
  return { ws, server, s3, bucket, file: ws.writeOutputs(outputs), aws: { endpoint, maxAttempts: 1 } };
}

test("backup-database with --connection outputs reads the master secret, backs up, verifies and test-restores", async (t) => {
  const { ws, server, file, aws, s3, bucket } = await setup(t);
  const r = await runRunbook(
    backupDatabase,
    ["--outputs", file, "--state-dir", ws.stateDir, "--connection", "outputs", "--test-restore"],
    { aws },
  );
  t.is(r.exitCode, 0, r.stderr + r.message);
  const steps = Object.fromEntries(r.report!.steps.map((s) => [s.id, s.status]));
  t.deepEqual(steps, {
    "dump-and-upload": "succeeded",
    "verify-object": "succeeded",
    "test-restore": "succeeded",
    "retention-report": "succeeded",
  });
  const keys = (await s3.send(new ListObjectsV2Command({ Bucket: bucket }))).Contents!.map((o) => o.Key!).sort();
  t.is(keys.length, 3);
  t.regex(keys[0]!, /^database\/\d{8}T\d{6}Z\/eventchain\.dump$/);
  t.regex(keys[1]!, /^database\/\d{8}T\d{6}Z\/manifest\.json$/);
  t.regex(keys[2]!, /^database\/\d{8}T\d{6}Z\/roles\.sql$/, "the roles the database needs travel with it");
  const journal = JSON.stringify(ws.journal(ws.runIds()[0]!));
  t.false(journal.includes(server.connection().password), "the password never reaches the journal");
  t.deepEqual(await server.query("SELECT datname FROM pg_database WHERE datname LIKE 'eventchain_verify_%'"), []);
});

test("backup-database --dry-run prints the dump and upload it would make and writes nothing", async (t) => {
  const { ws, file, aws, s3, bucket } = await setup(t);
  const r = await runRunbook(
    backupDatabase,
    ["--outputs", file, "--state-dir", ws.stateDir, "--connection", "outputs", "--dry-run"],
    { aws },
  );
  t.is(r.exitCode, 0, r.stderr + r.message);
  t.regex(r.stdout + r.stderr, /pg_dump --format=custom --compress=1/);
  t.regex(r.stdout + r.stderr, /ChecksumAlgorithm/);
  t.is((await s3.send(new ListObjectsV2Command({ Bucket: bucket }))).KeyCount ?? 0, 0);
});

test("backup-database refuses a bad compression level before any change", async (t) => {
  const ws = workspace(t);
  const file = ws.writeOutputs(
    localOutputs({ instanceIdentifier: "x", dbName: "eventchain", port: 5432, bucketName: "unused-bucket" }),
  );
  const r = await runRunbook(backupDatabase, ["--outputs", file, "--state-dir", ws.stateDir, "--compress-level", "12"]);
  t.is(r.exitCode, 2);
  t.regex(r.message, /invalid --compress-level "12": expected/);
  t.deepEqual(ws.runIds(), [], "no run was started");
});

/** Everything a run leaves for a reader: terminal, journal, both reports, notifications. */
function everythingWritten(
  ws: Workspace,
  r: { stdout: string; stderr: string; message: string },
  sent: Notification[],
) {
  const files = ws
    .runIds()
    .flatMap((id) => readdirSync(join(ws.stateDir, id)).map((f) => readFileSync(join(ws.stateDir, id, f), "utf8")));
  return { text: [r.stdout, r.stderr, r.message, ...files, JSON.stringify(sent)].join("\n"), files: files.length };
}

for (const [what, secret, expected] of [
  [
    "a master secret that is not JSON",
    () => "PLANTED-s3cr3t-7f1c2e9a not json at all",
    /secret arn:aws:secretsmanager:.* is not JSON \(\d+ characters, not shown\): expected the RDS-managed master secret: JSON with string fields "username" and "password"/,
  ],
  [
    "a master secret without a password field",
    () => JSON.stringify({ username: "PLANTED-s3cr3t-7f1c2e9a", pass: "PLANTED-s3cr3t-7f1c2e9a" }),
    /is JSON but "password" is missing, empty or not a string/,
  ],
  [
    "a master secret whose password is wrong",
    () => JSON.stringify({ username: "postgres", password: "PLANTED-s3cr3t-7f1c2e9a" }),
    /password authentication failed for user "postgres"/,
  ],
] as const) {
  test(`${what} fails backup-database and verify-backup with a clear error and its text nowhere`, async (t) => {
    const { ws, file, aws } = await setup(t, secret);
    const sent: Notification[] = [];
    const sinks = () => [{ name: "capture", send: async (m: Notification) => void sent.push(m) }];
    const backup = await runRunbook(
      backupDatabase,
      ["--outputs", file, "--state-dir", ws.stateDir, "--connection", "outputs"],
      { aws, sinks },
    );
    t.is(backup.exitCode, 1);
    t.regex(backup.message, expected);
    const reportDir = join(ws.dir, "verifications");
    const verify = await runRunbook(
      verifyBackup,
      [
        "--outputs",
        file,
        "--state-dir",
        ws.stateDir,
        "--connection",
        "outputs",
        "--database",
        "eventchain",
        "--report-dir",
        reportDir,
      ],
      { aws, sinks },
    );
    t.is(verify.exitCode, 1);
    t.regex(verify.message, expected);
    const written = everythingWritten(
      ws,
      {
        stdout: backup.stdout + verify.stdout,
        stderr: backup.stderr + verify.stderr,
        message: backup.message + verify.message,
      },
      sent,
    );
    t.true(written.files >= 6, "two journals and two pairs of reports were written");
    t.true(
      sent.some((m) => m.kind === "failed"),
      "the failure notification was sent",
    );
    // Not the secret, nor its first characters (JSON.parse's own message quotes ten of them).
    t.false(written.text.includes("PLANTED"), "no part of the secret is written anywhere");
  });
}

test("verify-backup --database with --backup checks a live database against that backup's manifest", async (t) => {
  const { ws, server, file, aws } = await setup(t);
  const backup = await runRunbook(
    backupDatabase,
    ["--outputs", file, "--state-dir", ws.stateDir, "--connection", "outputs"],
    { aws },
  );
  t.is(backup.exitCode, 0, backup.message);
  const backupId = (backup.report!.steps.find((s) => s.id === "dump-and-upload")!.outputs as { backupId: string })
    .backupId;
  // A copy restored by hand, that lost rows on the way.
  const copy = `eventchain_copy_${n}`;
  await server.query(`CREATE DATABASE ${copy} TEMPLATE eventchain`);
  t.teardown(() => server.query(`DROP DATABASE IF EXISTS ${copy} WITH (FORCE)`));
  await server.query("DELETE FROM payments WHERE id % 10 = 0", [], copy);
  const verify = (database: string) =>
    runRunbook(
      verifyBackup,
      [
        ...["--outputs", file, "--state-dir", ws.stateDir, "--connection", "outputs"],
        ...["--database", database, "--backup", backupId, "--report-dir", join(ws.dir, "verifications")],
      ],
      { aws },
    );
  const same = await verify("eventchain");
  t.is(same.exitCode, 0, same.message);
  const lost = await verify(copy);
  t.is(lost.exitCode, 1);
  t.regex(lost.message, /table public\.payments: \d+ rows, manifest has \d+/);
});

test("verify-backup refuses an unknown --profile before any change", async (t) => {
  const ws = workspace(t);
  const file = ws.writeOutputs(
    localOutputs({ instanceIdentifier: "x", dbName: "eventchain", port: 5432, bucketName: "unused-bucket" }),
  );
  const r = await runRunbook(verifyBackup, ["--outputs", file, "--state-dir", ws.stateDir, "--profile", "shop"]);
  t.is(r.exitCode, 2);
  t.regex(
    r.message,
    /invalid --profile "shop": expected auto \(the EventChain checks where its tables exist\), eventchain \(required\), none, or the path of a JSON profile/,
  );
  t.deepEqual(ws.runIds(), [], "no run was started");
});
