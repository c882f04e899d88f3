/**
 * A PostgreSQL 15 cluster on this machine, as the self-managed runbooks (pgBackRest PITR, logical
 * backups, verification) and the throwaway servers of runbooks/local share it: where the server
 * binaries are, running them as the `postgres` user when we are root, and a handle on a data
 * directory (`adoptPostgres`) with its own socket, log and port.
 */
import { existsSync } from "node:fs";
import { appendFile, chmod, chown, mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { $ } from "zx";
import pg from "pg";
import { freePort } from "../lib/ports.ts";
import { assertNoControl } from "./shell-command.ts";

/** Connection settings for `pg` and for libpq tools (via {@link LocalPostgres.env}). */
export interface PgConnection {
  host: string;
  port: number;
  user: string;
  password: string;
  database: string;
}

export interface LocalPostgres {
  readonly binDir: string;
  readonly baseDir: string;
  readonly dataDir: string;
  readonly socketDir: string;
  readonly logFile: string;
  readonly port: number;
  /** Connection settings for `database` (default `postgres`). */
  connection(database?: string): PgConnection;
  /** Environment for libpq tools (`PGHOST`, `PGPORT`, `PGUSER`, `PGPASSWORD`, `PGDATABASE`). */
  env(database?: string): Record<string, string>;
  /** A connected `pg.Client`; the caller ends it. */
  client(database?: string): Promise<pg.Client>;
  /** Runs one statement and returns its rows. */
  query<T extends pg.QueryResultRow = pg.QueryResultRow>(
    sql: string,
    params?: unknown[],
    database?: string,
  ): Promise<T[]>;
  /** Appends settings to `postgresql.conf` (they apply at the next start or reload). */
  configure(settings: Record<string, string | number>): Promise<void>;
  /** Starts the server (after {@link stop}), waiting until it accepts connections. */
  start(): Promise<void>;
  /** Stops the server. `immediate` is a crash-like stop (what a disaster looks like). */
  stop(mode?: "fast" | "immediate"): Promise<void>;
  /** True while the postmaster runs. */
  running(): Promise<boolean>;
  /** Stops the server (immediate) if running and removes its whole temp directory. */
  destroy(): Promise<void>;
  /**
   * The RDS-shaped master role a throwaway server has (rehearsal/stand-ins/postgres.ts): not a
   * superuser. Absent on a cluster adopted from a restore that does not know its password.
   */
  readonly master?: { user: string; password: string };
}

/**
 * The same server seen as another role: `connection`, `env`, `client` and `query` log in as
 * `role`; starting, stopping and configuring the server are unchanged.
 */
export function asRole(server: LocalPostgres, role: { user: string; password: string }): LocalPostgres {
  const connection = (database = "postgres"): PgConnection => ({
    ...server.connection(database),
    user: role.user,
    password: role.password,
  });
  const view: LocalPostgres = {
    ...server,
    connection,
    env: (database = "postgres") => ({ ...server.env(database), PGUSER: role.user, PGPASSWORD: role.password }),
    async client(database) {
      const c = new pg.Client(connection(database));
      await c.connect();
      return c;
    },
    async query(sql, params, database) {
      const c = await view.client(database);
      try {
        return (await c.query(sql, params)).rows;
      } finally {
        await c.end();
      }
    },
  };
  return view;
}

const isRoot = (): boolean => process.getuid?.() === 0;

/**
 * Command prefix that runs a program as `user` when we are root (`runuser -u user --`), and
 * nothing otherwise; use inside a zx template: `$\`${asServiceUser("postgres")} initdb ...\``.
 */
export function asServiceUser(user: string): string[] {
  return isRoot() ? ["runuser", "-u", user, "--"] : [];
}

/** uid/gid of `user` when we are root (to chown its directories), else undefined. */
export async function serviceUserIds(user: string): Promise<{ uid: number; gid: number } | undefined> {
  if (!isRoot()) return undefined;
  const r = await $({ quiet: true, nothrow: true })`id -u ${user}`;
  const g = await $({ quiet: true, nothrow: true })`id -g ${user}`;
  if (r.exitCode !== 0 || g.exitCode !== 0) {
    throw new Error(
      `we run as root but there is no "${user}" user to run the server as: install the Debian package that creates it (postgresql-15) or run as an unprivileged user`,
    );
  }
  return { uid: Number(r.stdout.trim()), gid: Number(g.stdout.trim()) };
}

const DEBIAN_BINDIR = "/usr/lib/postgresql/15/bin";

/**
 * Finds the PostgreSQL server binaries: `$PG_BINDIR`, then `pg_config --bindir`, then the
 * Debian location.
 * @throws Error naming the Debian package when none has `initdb` and `postgres`.
 */
export async function findPostgresBinDir(): Promise<string> {
  const candidates: string[] = [];
  if (process.env.PG_BINDIR) candidates.push(process.env.PG_BINDIR);
  const fromPgConfig = await $({ quiet: true, nothrow: true })`pg_config --bindir`;
  if (fromPgConfig.exitCode === 0) candidates.push(fromPgConfig.stdout.trim());
  candidates.push(DEBIAN_BINDIR);
  for (const dir of candidates) {
    if (["initdb", "postgres", "pg_ctl", "pg_dump", "pg_restore"].every((b) => existsSync(join(dir, b)))) return dir;
  }
  throw new Error(
    `PostgreSQL server binaries (initdb, postgres, pg_ctl, pg_dump, pg_restore) not found in ${candidates.join(", ")}: ` +
      "install the Debian packages postgresql-15 and postgresql-client-15 (apt-get install postgresql-15 postgresql-client-15), " +
      "or set PG_BINDIR to the directory holding them",
  );
}

/**
 * Pure: settings as postgresql.conf lines. A string value is quoted as the file's parser reads
 * it back: `'` doubled and `\\` doubled (it reads backslash escapes inside quotes).
 * @throws Error naming the setting when its name is not a setting name or its value holds a newline.
 */
export function confLines(settings: Record<string, string | number>): string {
  return Object.entries(settings)
    .map(([k, v]) => {
      if (!/^[a-z_][a-z0-9_.]*$/.test(k))
        throw new Error(`invalid PostgreSQL setting name "${k}": expected lower-case letters, digits, _ and .`);
      if (typeof v === "number") return `${k} = ${v}`;
      assertNoControl(v, `value of ${k}`);
      return `${k} = '${v.replace(/\\/g, "\\\\").replace(/'/g, "''")}'`;
    })
    .join("\n");
}

/** Longest path of a Unix socket (`sun_path` is 108 bytes with its terminating NUL). */
export const UNIX_SOCKET_PATH_MAX = 107;
/** PostgreSQL's socket file in its directory: `/.s.PGSQL.<port>`, at most 16 characters. */
const SOCKET_FILE_CHARS = "/.s.PGSQL.65535".length;

/**
 * Pure: the parent for a server's socket directory: the OS temp dir when a socket under it fits
 * the Unix limit, else `/tmp`. Never the working directory or a data directory's path: a CI
 * runner's checkout (45 characters) under `.runs/restores/<target>` already overflows it.
 */
export function socketParent(tmp: string): string {
  const fits = (dir: string) => join(dir, "ecdr-pg-XXXXXX").length + SOCKET_FILE_CHARS <= UNIX_SOCKET_PATH_MAX;
  return fits(tmp) && !/[\s,"]/.test(tmp) ? tmp : "/tmp";
}

/**
 * Creates a new private (0700) socket directory, short whatever the working directory, owned by
 * the server's user when we are root.
 */
export async function shortSocketDir(): Promise<string> {
  const dir = await mkdtemp(join(socketParent(tmpdir()), "ecdr-pg-"));
  await chmod(dir, 0o700);
  const ids = await serviceUserIds("postgres");
  if (ids) await chown(dir, ids.uid, ids.gid);
  return dir;
}

/** Pure: where the log of a server adopted with `baseDir` goes. */
export const serverLogFile = (baseDir: string): string => join(baseDir, "postgres.log");

/**
 * Wraps an existing data directory (e.g. one pgBackRest just restored) as a server on a new free
 * port, its log under `baseDir` and its socket in a new short directory (see {@link shortSocketDir}).
 * Not started: call `start()`.
 */
export async function adoptPostgres(options: {
  binDir: string;
  /** Directory owning the log; `destroy()` removes it (and the socket directory). */
  baseDir: string;
  dataDir: string;
  /** The `postgres` role's password inside that cluster. */
  password: string;
  settings?: Record<string, string | number>;
}): Promise<LocalPostgres> {
  const { binDir, baseDir, dataDir, password } = options;
  const socketDir = await shortSocketDir();
  const logFile = serverLogFile(baseDir);
  const port = await freePort();
  await appendFile(
    join(dataDir, "postgresql.conf"),
    `\n# eventchain-dr throwaway server\n${confLines({
      listen_addresses: "127.0.0.1",
      port,
      unix_socket_directories: socketDir,
      unix_socket_permissions: "0700",
      ...options.settings,
    })}\n`,
  );

  const pgCtl = join(binDir, "pg_ctl");
  const connection = (database = "postgres"): PgConnection => ({
    host: "127.0.0.1",
    port,
    user: "postgres",
    password,
    database,
  });
  const server: LocalPostgres = {
    binDir,
    baseDir,
    dataDir,
    socketDir,
    logFile,
    port,
    connection,
    env: (database = "postgres") => ({
      PGHOST: "127.0.0.1",
      PGPORT: String(port),
      PGUSER: "postgres",
      PGPASSWORD: password,
      PGDATABASE: database,
    }),
    async client(database) {
      const c = new pg.Client(connection(database));
      await c.connect();
      return c;
    },
    async query(sql, params, database) {
      const c = await server.client(database);
      try {
        return (await c.query(sql, params)).rows;
      } finally {
        await c.end();
      }
    },
    async configure(settings) {
      await appendFile(join(dataDir, "postgresql.conf"), `\n${confLines(settings)}\n`);
    },
    async start() {
      const r = await $({
        quiet: true,
        nothrow: true,
      })`${asServiceUser("postgres")} ${pgCtl} -D ${dataDir} -l ${logFile} -w -t 120 start`;
      if (r.exitCode !== 0) {
        const tail = existsSync(logFile) ? (await readFile(logFile, "utf8")).split("\n").slice(-15).join("\n") : "";
        throw new Error(
          `PostgreSQL did not start on 127.0.0.1:${port} (pg_ctl exit ${r.exitCode}): ${r.stderr.trim()}\n${tail}`,
        );
      }
    },
    async stop(mode = "fast") {
      await $({ quiet: true })`${asServiceUser("postgres")} ${pgCtl} -D ${dataDir} -m ${mode} -w -t 120 stop`;
    },
    async running() {
      if (!existsSync(join(dataDir, "postmaster.pid"))) return false;
      const r = await $({ quiet: true, nothrow: true })`${asServiceUser("postgres")} ${pgCtl} -D ${dataDir} status`;
      return r.exitCode === 0;
    },
    async destroy() {
      try {
        if (await server.running()) await server.stop("immediate");
      } finally {
        await rm(baseDir, { recursive: true, force: true });
        await rm(socketDir, { recursive: true, force: true });
      }
    },
  };
  return server;
}

/** @throws Error naming the value when it is not a plain lower-case SQL identifier. */
export function assertIdentifier(value: string, what: string): void {
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(value)) {
    throw new Error(
      `invalid ${what} "${value}": expected a lower-case identifier (a-z, 0-9, _; at most 63 characters, not starting with a digit)`,
    );
  }
}
