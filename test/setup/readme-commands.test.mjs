// @ts-check
/** The README's manual set-up commands are the ones the set-up prints (one source: scripts/setup/plan.mjs). */
import test from "ava";
import { readFileSync } from "node:fs";
import { planSetup } from "../../scripts/setup/plan.mjs";

const readme = readFileSync(new URL("../../README.md", import.meta.url), "utf8");
const section = readme.slice(readme.indexOf("## The two commands"), readme.indexOf("### What the drill prints"));

/**
 * A machine with none of the system packages and no venv, for `npm test`.
 * @param {import("../../scripts/setup/plan.mjs").OsState} os
 * @returns {import("../../scripts/setup/plan.mjs").SystemState}
 */
const bare = (os) => ({
  purpose: "test",
  node: {
    running: "24.22.3",
    runningBinDir: "/usr/bin",
    requiredMajor: 24,
    tools: null,
    toolsBinDir: "/x",
    platform: "linux",
    arch: "x64",
  },
  npm: { status: "current" },
  system: { postgresql: false, redis: false, pgbackrest: false, stunnel: false, openssl: false },
  pythonVenv: false,
  venv: { python: false, moto: null },
  os,
  user: { root: false, sudo: "absent", interactive: false },
});

test("the README's commands for Debian are the set-up's, for a machine with nothing installed", (t) => {
  const plan = planSetup(bare({ family: "debian", id: "debian", codename: "bookworm", name: "Debian 12" }));
  const commands = plan.message
    .split("\n")
    .filter((l) => l.startsWith("  "))
    .map((l) => l.trim());
  t.is(commands.length, 2);
  t.is(commands[0], "apt-get update -q");
  for (const c of commands) t.true(section.includes(`\n${c}\n`), `README lacks: ${c}`);
});

test("the README's commands for macOS are the set-up's", (t) => {
  const plan = planSetup(bare({ family: "macos", id: "darwin", codename: "", name: "macOS" }));
  const commands = plan.message
    .split("\n")
    .filter((l) => l.startsWith("  "))
    .map((l) => l.trim());
  t.is(commands.length, 2);
  for (const c of commands) t.true(section.includes(`\n${c}\n`), `README lacks: ${c}`);
});
