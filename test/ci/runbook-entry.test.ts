/**
 * A runbook starts both ways the README shows, under Node 24 with no loader: `node
 * runbooks/<name>.ts` and `npx zx runbooks/<name>.ts` (erasable TypeScript only; see tsconfig).
 */
import test from "ava";
import { execFile } from "node:child_process";
import { delimiter, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { EXIT } from "../../runbooks/lib/errors.ts";
import { useSeededMoto } from "../helpers/moto.ts";
import { workspace } from "../helpers/run-runbook.ts";

const run = promisify(execFile);
const root = fileURLToPath(new URL("../..", import.meta.url));
const { moto, seeded, state } = useSeededMoto(test);

/** The two ways, each with this Node (24) first on the PATH so that npx and zx run under it too. */
const WAYS = {
  node: (script: string) => [process.execPath, script] as const,
  "npx zx": (script: string) => ["npx", "zx", script] as const,
};

async function start(way: keyof typeof WAYS, name: string, args: string[], env: NodeJS.ProcessEnv = {}) {
  const [file, ...first] = WAYS[way](`runbooks/${name}.ts`);
  // No NODE_OPTIONS from the test runner: no loader helps the runbook start.
  const { NODE_OPTIONS: _loader, ...inherited } = process.env;
  return run(file, [...first, ...args], {
    cwd: root,
    env: { ...inherited, ...env, PATH: `${dirname(process.execPath)}${delimiter}${process.env.PATH ?? ""}` },
  }).then(
    (r) => ({ code: 0, stdout: r.stdout, stderr: r.stderr }),
    (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, stdout: e.stdout, stderr: e.stderr }),
  );
}

test.serial("the tests run under Node 24", (t) => {
  t.true(Number(process.versions.node.split(".")[0]) >= 24, `Node ${process.versions.node}`);
});

for (const way of Object.keys(WAYS) as (keyof typeof WAYS)[]) {
  test.serial(`${way} runbooks/region-failover.ts --help prints its options and exits 0`, async (t) => {
    const r = await start(way, "region-failover", ["--help"]);
    t.is(r.code, EXIT.succeeded, r.stderr);
    t.true(r.stdout.startsWith("region-failover: "), r.stdout);
    t.true(r.stdout.includes("--max-wait-minutes"));
    t.true(r.stdout.includes("--dry-run"));
  });

  test.serial(
    `${way} runbooks/region-failover.ts --dry-run plans every step against the outputs file and changes nothing`,
    async (t) => {
      const ws = workspace(t);
      const outputs = ws.writeOutputs(seeded().file);
      const env = { AWS_ENDPOINT_URL: moto().endpoint, AWS_MAX_ATTEMPTS: "1" };
      const args = ["--outputs", outputs, "--stack", "prod", "--state-dir", ws.stateDir, "--dry-run", "--force"];
      const before = await state();
      const r = await start(way, "region-failover", args, env);
      t.is(r.code, EXIT.succeeded, r.stderr);
      t.regex(r.stdout, /^dry run complete: \d+ steps planned, nothing changed\n/);
      t.true(r.stderr.startsWith("DRY RUN of region-failover on stack prod (us-east-1): nothing will be changed."));
      t.regex(r.stderr, /• Probe the primary region \(bounded, side by side\) \[assess-primary\] \(read-only\)/);
      t.regex(r.stderr, /rds:RestoreDBInstanceFromDBSnapshot \(us-west-2\)/);
      t.deepEqual(await state(), before, "the emulator's state is unchanged");
    },
  );

  test.serial(`${way} runbooks/region-failover.ts refuses a healthy primary with exit 2`, async (t) => {
    const ws = workspace(t);
    const args = [
      "--outputs",
      ws.writeOutputs(seeded().file),
      "--stack",
      "prod",
      "--state-dir",
      ws.stateDir,
      "--dry-run",
    ];
    const r = await start(way, "region-failover", args, { AWS_ENDPOINT_URL: moto().endpoint, AWS_MAX_ATTEMPTS: "1" });
    t.is(r.code, EXIT.badInput, r.stderr);
    t.regex(r.stdout, /^bad input: the primary region us-east-1 looks healthy .*refusing to fail over\. Pass --force/);
  });
}
