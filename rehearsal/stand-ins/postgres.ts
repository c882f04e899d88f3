/**
 * Throwaway PostgreSQL 15 servers on loopback, for the drill, the tests and the benchmarks.
 *
 * Each server lives in its own temp directory (data, log), listens on 127.0.0.1 on a free port,
 * and is run as the `postgres` user when we are root (PostgreSQL refuses to run as root).
 * Password authentication (SCRAM) with a random password for TCP; the Unix socket sits in its
 * own short 0700 directory owned by the server's user (short whatever `parentDir` is: see
 * `shortSocketDir`). Nothing is shared between two servers, so parallel ava processes never
 * collide.
 */
import { randomBytes } from "node:crypto";
import { chown, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { $ } from "zx";
import {
  adoptPostgres,
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
  const server = await adoptPostgres({ binDir, baseDir, dataDir, password, settings: options.settings });
  try {
    await server.start();
  } catch (error) {
    await rm(baseDir, { recursive: true, force: true });
    throw error;
  }
  return server;
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
