/**
 * Every command a run prints for the operator to paste — resume after a failure, confirm with
 * --yes, start a new run after a refusal, resume after a declined step, continue an interrupted
 * run — is pasted into `sh -n` (it parses) and `sh -c` (with `npx` standing in, printing its
 * arguments) under state directories and outputs files with hostile names. Nothing runs: no file
 * appears, and the arguments arrive exactly as given.
 */
import test from "ava";
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";
import { BadInputError, EXIT } from "../../runbooks/lib/errors.ts";
import type { Runbook, Step } from "../../runbooks/lib/types.ts";
import { sampleOutputs } from "../../rehearsal/stand-ins/seeded-outputs.ts";
import { runRunbook, workspace } from "../helpers/run-runbook.ts";

const HOSTILE = [
  "$(touch PWNED)",
  "`touch PWNED`",
  "a b; touch PWNED",
  "it's | touch PWNED",
  '"quoted" && touch PWNED',
  "$HOME ${IFS} *",
  "back\\slash > PWNED",
  "-rf",
];

/** A runbook that fails, stops or refuses where `mode` says, so each kind of hint is printed. */
function hintingRunbook(mode: "fail" | "confirm" | "refuse"): Runbook {
  const first: Step = {
    id: "prepare",
    title: "Prepare",
    dependsOn: [],
    describe: () => [],
    run: async () => {
      if (mode === "refuse") throw new BadInputError("the input is wrong");
      return {};
    },
  };
  const second: Step = {
    id: "switch",
    title: "Switch",
    dependsOn: [first],
    movesTraffic: true,
    describe: () => [],
    run: async () => {
      if (mode === "fail") throw new Error("the switch did not answer");
      return {};
    },
  };
  return { name: "hinting", summary: "prints hints", system: "primary-database", steps: [first, second] };
}

/** The command lines in a run's output: from `npx zx` to the end of the sentence that holds it. */
function commandsIn(text: string): string[] {
  const found: string[] = [];
  for (const m of text.matchAll(/npx zx \S+\.ts[^\n]*?(?= …|\n|$)/g)) found.push(m[0]);
  return found;
}

/** Pastes `cmd` into sh with npx standing in; returns the arguments npx received. */
function paste(dir: string, cmd: string): string[] {
  execFileSync("sh", ["-n", "-c", cmd]);
  const out = execFileSync("sh", ["-c", `npx() { for a in "$@"; do printf '%s\\0' "$a"; done; }\n${cmd}`], {
    cwd: dir,
    encoding: "utf8",
  });
  return out.split("\0").slice(0, -1);
}

for (const name of HOSTILE) {
  test(`printed commands are safe to paste with a state directory and outputs file named ${JSON.stringify(name)}`, async (t) => {
    const ws = workspace(t);
    const hostileDir = join(ws.dir, name);
    mkdirSync(hostileDir, { recursive: true });
    const stateDir = join(hostileDir, "runs");
    const outputs = join(hostileDir, "outputs.json");
    writeFileSync(outputs, JSON.stringify({ prod: sampleOutputs("prod"), dr: sampleOutputs("dr") }));
    const printed: string[] = [];
    for (const [mode, code] of [
      ["fail", EXIT.failed],
      ["confirm", EXIT.stopped],
      ["refuse", EXIT.badInput],
    ] as const) {
      const res = await runRunbook(hintingRunbook(mode), [
        "--outputs",
        outputs,
        "--stack",
        "prod",
        "--state-dir",
        stateDir,
        ...(mode === "confirm" ? [] : ["--yes"]),
      ]);
      t.is(res.exitCode, code, res.stdout + res.stderr);
      const commands = commandsIn(res.stdout + res.stderr);
      t.true(commands.length > 0, `a ${mode} prints a command: ${res.stdout}`);
      printed.push(...commands);
    }
    for (const cmd of printed) {
      const args = paste(ws.dir, cmd);
      t.is(args[0], "zx");
      const value = (flag: string) => args[args.indexOf(flag) + 1];
      if (args.includes("--state-dir")) t.is(value("--state-dir"), stateDir, cmd);
      if (args.includes("--outputs")) t.is(value("--outputs"), outputs, cmd);
    }
    t.false(existsSync(join(ws.dir, "PWNED")), "nothing ran");
    t.false(
      readdirSync(ws.dir, { recursive: true }).some((f) => basename(String(f)) === "PWNED"),
      "no file was created by a pasted command",
    );
  });
}

test("a state directory with a newline is refused before anything is written, escaped in the message", async (t) => {
  const ws = workspace(t);
  const outputs = ws.writeOutputs({ prod: sampleOutputs("prod"), dr: sampleOutputs("dr") });
  const res = await runRunbook(hintingRunbook("fail"), [
    "--outputs",
    outputs,
    "--stack",
    "prod",
    "--state-dir",
    join(ws.dir, "runs\nWARNING: forged line"),
    "--yes",
  ]);
  t.is(res.exitCode, EXIT.badInput);
  t.regex(
    res.stdout,
    /invalid --state-dir "[^"\n]*runs\\nWARNING: forged line": expected a directory path without newlines/,
  );
  t.notRegex(res.stdout + res.stderr, /^WARNING: forged line/m, "the value cannot forge a line of output");
  t.deepEqual(readdirSync(ws.dir).sort(), ["outputs.json"]);
});
