// @ts-check
/**
 * The set-up behind `npm run drill` and `npm test` (through scripts/with-setup.sh) and .ci/run:
 * installs what is missing — Node 24 into .tools/, system packages with apt-get, npm packages,
 * moto into .venv/ — saying what and why, then prints the directory of the Node to run with on
 * stdout (one line; everything else goes to stderr).
 *
 *   node scripts/setup.mjs --for drill|test [--dry-run]
 *
 * `--dry-run` prints what it would install and the commands, and installs nothing.
 *
 * Exit codes: 0 ready · 1 an install failed (the message names the command) · 2 bad usage, or a
 * person must install something first (the message has the exact commands; nothing was changed).
 *
 * Plain JavaScript with Node built-ins only: it runs on whatever Node the machine has (≥ 18).
 */
import { delimiter } from "node:path";
import { fileURLToPath } from "node:url";
import { COMMAND_OF, commandLine, planSetup } from "./setup/plan.mjs";
import { probeSystem } from "./setup/probe.mjs";
import { runCommand } from "./setup/run-command.mjs";

const root = fileURLToPath(new URL("..", import.meta.url));
/** @param {string} line */
const say = (line) => process.stderr.write(`setup: ${line}\n`);
/** Since the process started (Node's own start-up included). */
const seconds = () => (performance.now() / 1000).toFixed(2);

const args = process.argv.slice(2);
const dryRun = args.at(-1) === "--dry-run";
const purpose = args[0] === "--for" && args.length === (dryRun ? 3 : 2) ? args[1] : undefined;
if (purpose !== "drill" && purpose !== "test") {
  say(`usage: node scripts/setup.mjs --for drill|test [--dry-run] (got: ${args.join(" ") || "no arguments"})`);
  process.exit(2);
}

const plan = planSetup(probeSystem(root, purpose));
if (plan.exitCode !== 0) {
  for (const line of plan.message.split("\n"))
    process.stderr.write(line.startsWith("  ") ? `${line}\n` : `setup: ${line}\n`);
  process.exit(plan.exitCode);
}

if (dryRun) {
  for (const action of plan.actions) {
    say(`to do: ${action.message}`);
    for (const command of action.commands) say(`to run: $ ${commandLine(command)}`);
  }
  say(
    `${plan.actions.length === 0 ? "nothing to install" : "--dry-run: nothing installed"}; in place: ${plan.message}`,
  );
  process.stdout.write(`${plan.nodeBinDir}\n`);
  process.exit(0);
}

// Every install runs with the Node it will be used with first on the PATH.
const env = { ...process.env, PATH: `${plan.nodeBinDir}${delimiter}${process.env.PATH ?? ""}` };
for (const action of plan.actions) {
  say(action.message);
  for (const command of action.commands) {
    say(`$ ${commandLine(command)}`);
    const result = await runCommand(command, { cwd: root, env, out: process.stderr });
    if (result.code !== 0) {
      const how = result.error
        ? `could not start (${result.error.message})`
        : result.signal
          ? `was stopped by ${result.signal}`
          : `exited with ${result.code}`;
      say(
        `failed: \`${commandLine(command)}\` ${how}. Fix the cause, then run ${COMMAND_OF[purpose]} again (what was installed stays).`,
      );
      process.exit(1);
    }
  }
}
say(
  plan.actions.length === 0
    ? `ready for ${COMMAND_OF[purpose]} in ${seconds()} s: ${plan.message}`
    : `installed in ${seconds()} s; ready for ${COMMAND_OF[purpose]}`,
);
process.stdout.write(`${plan.nodeBinDir}\n`);
