/**
 * Every runbook runs as a script (here `node --import=tsx runbooks/<name>.ts`; test/ci/runbook-entry.test.ts
 * runs `node` and `npx zx` without a loader), with --help, and honours AWS_ENDPOINT_URL.
 */
import test from "ava";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { fileURLToPath } from "node:url";
import { dirname } from "node:path";
import { DescribeDBInstancesCommand, RDSClient, StopDBInstanceCommand } from "@aws-sdk/client-rds";
import { EXIT } from "../../runbooks/lib/errors.ts";
import { useMoto } from "../helpers/moto.ts";
import { seedStacks, PRIMARY_REGION, SOURCE_DB } from "../../rehearsal/stand-ins/aws-seed.ts";
import { workspace } from "../helpers/run-runbook.ts";

const run = promisify(execFile);
const root = fileURLToPath(new URL("../..", import.meta.url));
const moto = useMoto(test);

const script = (name: string, args: string[], env: NodeJS.ProcessEnv = {}) =>
  run(process.execPath, ["--import=tsx", `runbooks/${name}.ts`, ...args], {
    cwd: root,
    env: { ...process.env, ...env },
  }).then(
    (r) => ({ code: 0, ...r }),
    (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, stdout: e.stdout, stderr: e.stderr }),
  );

for (const [name, option] of [
  ["point-in-time-restore", "--time"],
  ["region-failover", "--max-wait-minutes"],
  ["failback", "--writes-stopped"],
  ["service-recovery", "--service"],
  ["database-recovery", "--use-instance"],
] as const) {
  test(`${name} --help shows its own and the common options`, async (t) => {
    const res = await script(name, ["--help"]);
    t.is(res.code, 0, res.stderr);
    t.true(res.stdout.startsWith(`${name}: `));
    t.true(
      res.stdout.includes(`\nUsage: npx zx runbooks/${name}.ts (--stack <name> | --outputs <file.json>)`),
      res.stdout,
    );
    t.true(res.stdout.includes(option));
    t.true(res.stdout.includes("--resume <value>"));
  });
}

test("a runbook script reaches the emulator through AWS_ENDPOINT_URL and publishes to the stack's topic", async (t) => {
  await moto().reset();
  const seeded = await seedStacks(moto().endpoint);
  const rds = new RDSClient({ region: PRIMARY_REGION, endpoint: moto().endpoint, maxAttempts: 1 });
  await rds.send(new StopDBInstanceCommand({ DBInstanceIdentifier: SOURCE_DB }));
  const ws = workspace(t);
  const res = await script(
    "database-recovery",
    [
      "--outputs",
      ws.writeOutputs(seeded.file),
      "--stack",
      "prod",
      "--state-dir",
      ws.stateDir,
      "--yes",
      "--json",
      "--health-attempts",
      "1",
    ],
    { AWS_ENDPOINT_URL: moto().endpoint, AWS_MAX_ATTEMPTS: "1" },
  );
  t.is(res.code, EXIT.succeeded, res.stdout + res.stderr);
  const events = res.stdout
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l) as { event: string; message?: string; report?: { verdict: string } });
  t.false(
    events.some((e) => e.event === "warning" && /notification/.test(e.message ?? "")),
    "SNS publish succeeded",
  );
  t.is(events.at(-1)!.report!.verdict, "objectives_met");
  const all = (await rds.send(new DescribeDBInstancesCommand({}))).DBInstances!.map((i) => i.DBInstanceIdentifier);
  t.true(all.some((id) => /^eventchain-prod-db-rec-\d{14}$/.test(id!)));
});

test("a bad flag exits with code 2", async (t) => {
  const res = await script("region-failover", ["--stack", "prod", "--bogus"]);
  t.is(res.code, EXIT.badInput);
  t.regex(res.stderr, /Unknown option '--bogus'/);
});

/**
 * Runs `command` with Node 24 first on the PATH (what `npx` and the `zx` shebang resolve). The
 * test that uses it is serial: it resets and seeds the file's emulator, as the test above does.
 */
const withNode = (command: string, args: string[], env: NodeJS.ProcessEnv = {}) =>
  run(command, args, {
    cwd: root,
    env: { ...process.env, PATH: `${dirname(process.execPath)}:${process.env.PATH}`, ...env },
  }).then(
    (r) => ({ code: 0, ...r }),
    (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, stdout: e.stdout, stderr: e.stderr }),
  );

test.serial(
  "under zx a runbook script runs its CLI: npx zx and node --import tsx node_modules/.bin/zx alike",
  async (t) => {
    const help = await withNode("npx", ["zx", "runbooks/region-failover.ts", "--help"]);
    t.is(help.code, 0, help.stderr);
    t.true(help.stdout.startsWith("region-failover: "), help.stdout);
    // With real arguments it acts: reads the outputs, asks the emulator, and refuses a healthy primary.
    await moto().reset();
    const seeded = await seedStacks(moto().endpoint);
    const ws = workspace(t);
    const args = ["--outputs", ws.writeOutputs(seeded.file), "--stack", "prod", "--state-dir", ws.stateDir, "--yes"];
    const env = { AWS_ENDPOINT_URL: moto().endpoint, AWS_MAX_ATTEMPTS: "1" };
    for (const [command, argv] of [
      ["npx", ["zx", "runbooks/region-failover.ts", ...args]],
      [process.execPath, ["--import", "tsx", "node_modules/.bin/zx", "runbooks/region-failover.ts", ...args]],
    ] as const) {
      const res = await withNode(command, [...argv], env);
      t.is(res.code, EXIT.badInput, `${command}: ${res.stdout}${res.stderr}`);
      t.regex(res.stdout, /the primary region us-east-1 looks healthy .*: refusing to fail over/, command);
    }
    const missing = await withNode("npx", [
      "zx",
      "runbooks/region-failover.ts",
      "--outputs",
      "nope.json",
      "--stack",
      "prod",
    ]);
    t.is(missing.code, EXIT.badInput);
    t.regex(missing.stdout, /--outputs file "nope\.json" cannot be read/);
  },
);
