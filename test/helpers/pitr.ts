/**
 * A PostgreSQL with continuous archiving (pgBackRest, posix repository) and a base backup,
 * plus an application writer and the ground truth of which rows committed when.
 */
import { chown, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { $ } from "zx";
import type pg from "pg";
import type { LocalPostgres } from "../../runbooks/postgres/cluster.ts";
import { asServiceUser, serviceUserIds } from "../../runbooks/postgres/cluster.ts";
import { runningPostmaster } from "../../runbooks/postgres/recovered-cluster.ts";
import { sellTicket } from "../../rehearsal/stand-ins/eventchain-schema.ts";
import { baseBackup, enableArchiving, type PgBackRestConfig } from "../../runbooks/postgres/pgbackrest.ts";

export async function archivedWithBaseBackup(
  server: LocalPostgres,
  stanza = "eventchain",
  /** Where the pgBackRest config and the repository go (default: the server's own directory). */
  under = server.baseDir,
  /** Full backups kept: each point-in-time restore adds one (its snapshot step). */
  retentionFull = 2,
): Promise<{ cfg: PgBackRestConfig; backupStoppedAt: Date }> {
  const cfg = await enableArchiving(server, {
    dir: join(under, "pgbackrest"),
    stanza,
    repo: { type: "posix", path: join(under, "repo") },
    archiveTimeoutSeconds: 10,
    retentionFull,
  });
  const backup = await baseBackup(cfg, "full");
  return { cfg, backupStoppedAt: new Date(backup.stoppedAt) };
}

/** Polls the server's own clock until it is past `t` (bounded; no fixed sleep). */
export async function waitServerClockPast(client: pg.Client, t: Date): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const { rows } = await client.query<{ past: boolean }>("SELECT clock_timestamp() > $1 AS past", [t]);
    if (rows[0]!.past) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`server clock did not pass ${t.toISOString()}`);
}

/** Sells `n` tickets, one transaction each; returns their ids. */
export async function sell(client: pg.Client, n: number): Promise<number[]> {
  const ids: number[] = [];
  for (let i = 0; i < n; i++) ids.push(await sellTicket(client));
  return ids;
}

/**
 * Ticket ids above `afterId` and whether each committed at or before `t` (needs
 * track_commit_timestamp = on). Compared on the server in microseconds: a JS Date truncates
 * commit times to milliseconds and would misplace a commit in the same millisecond as `t`.
 */
export async function committedBefore(
  client: pg.Client,
  afterId: number,
  t: Date,
): Promise<{ id: number; beforeT: boolean }[]> {
  const { rows } = await client.query<{ id: string; before: boolean }>(
    "SELECT id, pg_xact_commit_timestamp(xmin) <= $2::timestamptz AS before FROM tickets WHERE id > $1 ORDER BY id",
    [afterId, t.toISOString()],
  );
  return rows.map((r) => ({ id: Number(r.id), beforeT: r.before }));
}

/**
 * A new directory under the OS temp dir whose name holds `label` (spaces, quotes and `;` are
 * the point), reachable by the postgres user; removed in teardown by the caller.
 */
export async function postgresOwnedTempDir(label: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), label));
  const ids = await serviceUserIds("postgres");
  if (ids) await chown(dir, ids.uid, ids.gid);
  return dir;
}

/** Stops a cluster a restore created (not a LocalPostgres handle of ours), and removes its socket directory. */
export async function stopCluster(binDir: string, dataDir: string): Promise<void> {
  const running = await runningPostmaster(dataDir, "");
  await $({
    quiet: true,
    nothrow: true,
  })`${asServiceUser("postgres")} ${join(binDir, "pg_ctl")} -D ${dataDir} -m immediate -w stop`;
  if (running && basename(running.socketDir).startsWith("ecdr-pg-"))
    await rm(running.socketDir, { recursive: true, force: true });
}
