// @ts-check
/**
 * `npm run drill` and `npm test` start with scripts/with-setup.sh, which runs scripts/setup.mjs
 * and then execs the command. These run them for real on this machine, once the set-up has put
 * everything in place (npm test runs it before ava): nothing is installed here, except the Node
 * 24 in .tools/ an older Node on the PATH runs with when npm test ran under Node 24 (`arrange`).
 */
import test from "ava";
import { execFile, execFileSync, spawn } from "node:child_process";
import { accessSync, constants, realpathSync } from "node:fs";
import { delimiter, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

const root = fileURLToPath(new URL("../..", import.meta.url));
const run = promisify(execFile);

/**
 * @param {string} file
 * @param {string[]} args
 * @param {NodeJS.ProcessEnv} [env]
 * @returns {Promise<{ code: number, stdout: string, stderr: string }>}
 */
const outcome = (file, args, env = process.env) =>
  run(file, args, { cwd: root, env }).then(
    (r) => ({ code: 0, stdout: r.stdout, stderr: r.stderr }),
    (/** @type {{ code: number, stdout: string, stderr: string }} */ e) => ({
      code: e.code,
      stdout: e.stdout,
      stderr: e.stderr,
    }),
  );

/** @param {string} path */
const executable = (path) => {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
};

/** Every Node on the PATH (the machine's old one among them), and the one running the tests. */
const nodes = [
  ...new Set(
    [
      process.execPath,
      ...(process.env.PATH ?? "")
        .split(delimiter)
        .map((dir) => join(dir, "node"))
        .filter(executable),
    ].map((path) => realpathSync(path)),
  ),
].map((path) => ({ path, version: execFileSync(path, ["--version"], { encoding: "utf8" }).trim() }));

/** The PATH without the directory of the Node running the tests: the machine's own Node comes first. */
const machinePath = (process.env.PATH ?? "")
  .split(delimiter)
  .filter((dir) => dir !== dirname(process.execPath))
  .join(delimiter);

test.serial("with everything installed, --dry-run has nothing to install", async (t) => {
  const r = await outcome(process.execPath, ["scripts/setup.mjs", "--for", "test", "--dry-run"]);
  t.is(r.code, 0, r.stderr);
  t.regex(
    r.stderr,
    /^setup: nothing to install; in place: Node 24\.\d+\.\d+.*, npm packages, moto 5\.2\.1 \(\.venv\/\), hadolint 2\.15\.1 \(\.venv\/\)\n$/,
    "run npm test: its set-up installs what is missing",
  );
});

/**
 * Puts in place what the set-up needs under `node` and `npm test`'s own set-up may have left out:
 * that set-up ran under the first Node on the PATH, so with Node 24 first it put no Node into
 * .tools/ (none was needed), and an older Node here lacks it. The set-up under that Node installs
 * it, as it would for a user of that Node, and is not timed; anything else missing is a failure.
 * @param {import("ava").ExecutionContext} t
 * @param {{ path: string, version: string }} node
 */
async function arrange(t, node) {
  const plan = await outcome(node.path, ["scripts/setup.mjs", "--for", "drill", "--dry-run"]);
  t.is(plan.code, 0, plan.stderr);
  const todo = plan.stderr.split("\n").filter((line) => line.startsWith("setup: to do: "));
  t.deepEqual(
    todo.filter((line) => !/^setup: to do: installing Node \d+\.\d+\.\d+ into \.tools\/ /.test(line)),
    [],
    "only the Node an older Node runs with may be missing here: npm test's set-up puts everything else in place",
  );
  if (todo.length === 0) return;
  t.log(`arranging first (untimed): ${todo.join("; ")}`);
  const installed = await outcome(node.path, ["scripts/setup.mjs", "--for", "drill"]);
  t.is(installed.code, 0, `the set-up under Node ${node.version} could not put Node 24 in place:\n${installed.stderr}`);
}

for (const node of nodes)
  test.serial(
    `under Node ${node.version} the set-up finds everything in place, installs nothing and names the Node to run with`,
    async (t) => {
      await arrange(t, node);
      const r = await outcome(node.path, ["scripts/setup.mjs", "--for", "drill"]);
      t.is(r.code, 0, r.stderr);
      // One line and nothing else: no installer ran. How long it takes is not a test's business
      // (the README gives the figure, 0.03–0.15 s on a quiet machine).
      t.regex(r.stderr, /^setup: ready for npm run drill in \d+\.\d\d s: Node 24\.[^\n]*\n$/);
      const dir = r.stdout.trim();
      const version = (await run(join(dir, "node"), ["--version"])).stdout.trim();
      t.true(Number(version.slice(1).split(".")[0]) >= 24, `${dir}/node is ${version}`);
    },
  );

test("the command runs under Node 24 even when the PATH's first Node is older, and its exit code is the script's", async (t) => {
  const script = "console.log(process.versions.node); process.exit(7)";
  const r = await outcome("sh", ["scripts/with-setup.sh", "drill", "--", "node", "-e", script], {
    ...process.env,
    PATH: machinePath,
  });
  t.is(r.code, 7, r.stderr);
  t.true(Number(r.stdout.split(".")[0]) >= 24, `ran under Node ${r.stdout.trim()}`);
});

test("the command replaces the script: same process, so SIGTERM reaches it once and its exit code is kept", async (t) => {
  const script =
    "let n = 0; process.on('SIGTERM', () => { n++; setTimeout(() => { console.log('SIGTERM x' + n); process.exit(3); }, 200); });" +
    "console.log('pid ' + process.pid); setInterval(() => {}, 1000);";
  const child = spawn("sh", ["scripts/with-setup.sh", "test", "--", "node", "-e", script], {
    cwd: root,
    stdio: ["ignore", "pipe", "pipe"],
  });
  t.teardown(() => child.kill("SIGKILL"));
  let stdout = "";
  child.stdout.setEncoding("utf8");
  const started = new Promise((resolve) =>
    child.stdout.on("data", (chunk) => {
      stdout += chunk;
      if (/pid \d+\n/.test(stdout)) resolve(undefined);
    }),
  );
  const exited = new Promise((resolve) => child.once("exit", (code, signal) => resolve({ code, signal })));
  await started;
  t.is(stdout, `pid ${child.pid}\n`);
  child.kill("SIGTERM");
  t.deepEqual(await exited, { code: 3, signal: null });
  t.is(stdout, `pid ${child.pid}\nSIGTERM x1\n`);
});

test("without node on the PATH the script says what to install and exits 2", async (t) => {
  const r = await outcome("/bin/sh", ["scripts/with-setup.sh", "drill", "--", "node", "-v"], { PATH: "/nonexistent" });
  t.is(r.code, 2);
  t.is(
    r.stderr,
    "setup: node not found on the PATH: install Node.js (any version from 18 on; the set-up then puts Node 24 into .tools/)\n",
  );
});

test("bad usage of either entry exits 2 and names what is allowed", async (t) => {
  const sh = await outcome("sh", ["scripts/with-setup.sh", "drill", "node"]);
  t.is(sh.code, 2);
  t.is(sh.stderr, "setup: usage: sh scripts/with-setup.sh drill|test -- <command> [args...]\n");
  const mjs = await outcome(process.execPath, ["scripts/setup.mjs", "--for", "bench"]);
  t.is(mjs.code, 2);
  t.is(mjs.stderr, "setup: usage: node scripts/setup.mjs --for drill|test [--dry-run] (got: --for bench)\n");
  t.is(mjs.stdout, "");
});
