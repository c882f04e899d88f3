/**
 * Throwaway PostgreSQL 15 servers on loopback, for the drill, the tests and the benchmarks.
 *
 * Each server lives in its own temp directory (data, log), listens on 127.0.0.1 on a free port,
 * and is run as the `postgres` user when we are root (PostgreSQL refuses to run as root).
 * Password authentication (SCRAM) with a random password for TCP; the Unix socket sits in its
 * own short 0700 directory owned by the server's user (short whatever `parentDir` is: see
 * `shortSocketDir`). Nothing is shared between two servers, so parallel ava processes never
 * collide.
 *
 * Each server also has a master role shaped like RDS's (docs/rds-shaped-postgres.md): LOGIN
 * CREATEROLE CREATEDB, never SUPERUSER or REPLICATION, a member of a role standing in for
 * `rds_superuser`, itself a member of the predefined roles RDS grants it. `masterOf(server)`
 * connects as it: every logical restore and verification of the tests and the drill runs so.
 */
import { randomBytes } from "node:crypto";
import { chown, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { $ } from "zx";
import {
  adoptPostgres,
  asRole,
  asServiceUser,
  assertIdentifier,
  findPostgresBinDir,
  serviceUserIds,
  type LocalPostgres,
} from "../../runbooks/postgres/cluster.ts";

export interface StartPostgresOptions {
  /** Extra `postgresql.conf` settings, e.g. `{ wal_level: "replica" }`. Default: none. */
  settings?: Record<string, string | number>;
  /** Parent of the server's temp directory. Default: the OS temp dir. */
  parentDir?: string;
  /** Prefix of the temp directory name. Default: `eventchain-pg-`. */
  prefix?: string;
}

/** The master user the prod stack gives its RDS instance (infra/components/database.ts). */
export const RDS_MASTER_USER = "eventchain_admin";

/**
 * Roles RDS for PostgreSQL 15 has, as AWS documents them ("Understanding the rds_superuser
 * role", "Viewing roles and their privileges"): `rds_superuser` (NOLOGIN) is a member of
 * pg_monitor, pg_signal_backend, rds_password and rds_replication; the master user is
 * `LOGIN NOSUPERUSER INHERIT CREATEDB CREATEROLE NOREPLICATION VALID UNTIL 'infinity'`, a member
 * of rds_superuser. Our bootstrap superuser `postgres` plays `rdsadmin`'s part: nobody logs in
 * as it on RDS.
 */
export const rdsShapedRolesSql = (password: string): string => `
CREATE ROLE rds_password NOLOGIN;
CREATE ROLE rds_replication NOLOGIN;
CREATE ROLE rds_superuser NOLOGIN;
GRANT pg_monitor, pg_signal_backend, rds_password, rds_replication TO rds_superuser WITH ADMIN OPTION;
CREATE ROLE ${RDS_MASTER_USER} WITH LOGIN NOSUPERUSER INHERIT CREATEDB CREATEROLE NOREPLICATION NOBYPASSRLS
  VALID UNTIL 'infinity' PASSWORD '${password.replace(/'/g, "''")}';
GRANT rds_superuser TO ${RDS_MASTER_USER};
`;

/** The server seen as its RDS-shaped master role. @throws Error when the server has none. */
export function masterOf(server: LocalPostgres): LocalPostgres {
  if (!server.master) throw new Error(`the server on port ${server.port} has no RDS-shaped master role`);
  return asRole(server, server.master);
}

/** Starts a fresh, empty PostgreSQL cluster on 127.0.0.1. Call `destroy()` when done. */
export async function startPostgres(options: StartPostgresOptions = {}): Promise<LocalPostgres> {
  const binDir = await findPostgresBinDir();
  const baseDir = await mkdtemp(join(options.parentDir ?? tmpdir(), options.prefix ?? "eventchain-pg-"));
  const ids = await serviceUserIds("postgres");
  const dataDir = join(baseDir, "data");
  const password = randomBytes(18).toString("base64url");
  const pwFile = join(baseDir, "pwfile");
  try {
    await writeFile(pwFile, `${password}\n`, { mode: 0o600 });
    if (ids) for (const p of [baseDir, pwFile]) await chown(p, ids.uid, ids.gid);
    await $({
      quiet: true,
    })`${asServiceUser("postgres")} ${join(binDir, "initdb")} -D ${dataDir} -U postgres --pwfile=${pwFile} --auth-local=trust --auth-host=scram-sha-256 --encoding=UTF8 --locale=C.UTF-8 --no-instructions`;
  } catch (error) {
    await rm(baseDir, { recursive: true, force: true });
    throw new Error(`initdb failed in ${baseDir}: ${(error as Error).message}`, { cause: error });
  } finally {
    await rm(pwFile, { force: true });
  }
  const adopted = await adoptPostgres({ binDir, baseDir, dataDir, password, settings: options.settings });
  const master = { user: RDS_MASTER_USER, password: randomBytes(18).toString("base64url") };
  try {
    await adopted.start();
    await adopted.query(rdsShapedRolesSql(master.password));
  } catch (error) {
    await adopted.destroy();
    throw error;
  }
  return { ...adopted, master };
}

/** Creates a database (name checked: lower-case identifier). */
export async function createDatabase(server: LocalPostgres, name: string): Promise<void> {
  assertIdentifier(name, "database name");
  await server.query(`CREATE DATABASE ${name}`);
}

/** Drops a database if it exists, ending its sessions first. */
export async function dropDatabase(server: LocalPostgres, name: string): Promise<void> {
  assertIdentifier(name, "database name");
  await server.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
}
