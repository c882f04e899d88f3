/**
 * Continuous archiving as the posture configures it (`walArchiving` in the stack config:
 * archive_timeout, streaming), what the drill reads back from it (the archiver's last segment,
 * archive-push durations from pgBackRest's log), WAL streaming with pg_receivewal, and one fault
 * to inject: archiving slowed down (each archive-push delayed), to show what a slow path to the
 * repository costs.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { chown, mkdir } from "node:fs/promises";
import { join } from "node:path";
import type pg from "pg";
import { $ } from "zx";
import { asServiceUser, serviceUserIds, type LocalPostgres } from "../../runbooks/postgres/cluster.ts";
import {
  enableArchiving,
  type PgBackRestConfig,
  type RepositoryCompression,
} from "../../runbooks/postgres/pgbackrest.ts";
import type { Streaming } from "../../infra/posture/self-managed.ts";

export interface ArchiveSettings {
  archiveTimeoutSeconds: number;
  streaming: Streaming;
  /** The stack config's `walArchiving.repositoryCompression`. */
  compression: RepositoryCompression;
}

/**
 * Turns on archiving into a posix repository next to (not inside) the data directory, and times
 * every archive_command (pgBackRest logs synchronous archive-pushes to no file, so the drill
 * wraps the command PostgreSQL runs: start, end and exit status of each push, in `pushTimesFile`).
 */
export async function turnOnArchiving(pgs: LocalPostgres, s: ArchiveSettings): Promise<PgBackRestConfig> {
  const cfg = await enableArchiving(pgs, {
    dir: join(pgs.baseDir, "pgbackrest"),
    stanza: "eventchain",
    repo: { type: "posix", path: join(pgs.baseDir, "repo") },
    archiveTimeoutSeconds: s.archiveTimeoutSeconds,
    compression: s.compression,
  });
  const [row] = await pgs.query<{ archive_command: string }>("SHOW archive_command");
  await setArchiveCommand(
    pgs,
    `t0=$(date +%s.%N); ${row!.archive_command}; rc=$?; echo "%f $t0 $(date +%s.%N) $rc" >> ${pushTimesFile(cfg)}; exit $rc`,
  );
  return cfg;
}

/** Where the timed archive_command appends `<segment> <start> <end> <exit status>` per push. */
export const pushTimesFile = (cfg: PgBackRestConfig) => join(cfg.dir, "archive-push-times.log");

async function setArchiveCommand(pgs: LocalPostgres, command: string): Promise<void> {
  await pgs.query(`ALTER SYSTEM SET archive_command = '${command.replace(/'/g, "''")}'`);
  await pgs.query("SELECT pg_reload_conf()");
}

/** Pure: seconds of each successful push in the timing file's text. */
export function pushSecondsFromTimes(text: string): number[] {
  return text
    .split("\n")
    .map((l) => l.trim().split(/\s+/))
    .filter((f) => f.length === 4 && f[3] === "0")
    .map((f) => Number(f[2]) - Number(f[1]))
    .filter((x) => Number.isFinite(x) && x >= 0);
}

/** Seconds of every successful archive-push so far. */
export function archivePushSeconds(cfg: PgBackRestConfig): number[] {
  const file = pushTimesFile(cfg);
  return existsSync(file) ? pushSecondsFromTimes(readFileSync(file, "utf8")) : [];
}

/** Delays every later archive-push by `seconds` (reload, no restart): the fault "archiving slowed down". */
export async function slowDownArchiving(pgs: LocalPostgres, seconds: number): Promise<void> {
  if (!Number.isInteger(seconds) || seconds < 1 || seconds > 3600)
    throw new Error(`invalid archive delay ${seconds}: expected an integer number of seconds from 1 to 3600`);
  const [row] = await pgs.query<{ archive_command: string }>("SHOW archive_command");
  await setArchiveCommand(pgs, `sleep ${seconds}; ${row!.archive_command}`);
}

/** The archiver's own account: the newest segment it archived, and when. */
export async function archiverStatus(
  client: pg.Client,
): Promise<{ lastArchivedAt: Date | null; lastWal: string | null; failed: number }> {
  const { rows } = await client.query<{ t: Date | null; w: string | null; f: string }>(
    "SELECT last_archived_time AS t, last_archived_wal AS w, failed_count::text AS f FROM pg_stat_archiver",
  );
  return { lastArchivedAt: rows[0]?.t ?? null, lastWal: rows[0]?.w ?? null, failed: Number(rows[0]?.f ?? 0) };
}

/** Pure: durations in seconds of the successful commands of `command` in a pgBackRest log. */
export function commandSecondsFromLog(log: string, command: "archive-push" | "restore"): number[] {
  const re = new RegExp(`${command} command end: completed successfully \\((\\d+)ms\\)`, "g");
  return [...log.matchAll(re)].map((m) => Number(m[1]) / 1000);
}

/** Every log file of pgBackRest (log-path) whose name mentions `command`, concatenated. */
export function pgbackrestLog(cfg: PgBackRestConfig, command: string): string {
  const dir = join(cfg.dir, "log");
  if (!existsSync(dir)) return "";
  return readdirSync(dir)
    .filter((f) => f.includes(command))
    .map((f) => readFileSync(join(dir, f), "utf8"))
    .join("\n");
}

export interface WalStream {
  dir: string;
  /** Lag pg_receivewal reports to the primary right now (seconds; 0 when idle). */
  flushLagSeconds(client: pg.Client): Promise<number>;
  /** Stops pg_receivewal (it exits by itself once the primary is gone). */
  stop(): Promise<void>;
}

const SLOT = "drill_stream";

/**
 * Starts pg_receivewal streaming the primary's WAL into `dir` (outside the data directory: in
 * production, the repository host), synchronously (each write flushed and reported), through a
 * replication slot so the primary keeps what it has not received. Resolves once it streams.
 */
export async function startWalStream(pgs: LocalPostgres, dir: string): Promise<WalStream> {
  const ids = await serviceUserIds("postgres");
  await mkdir(dir, { recursive: true, mode: 0o700 });
  if (ids) await chown(dir, ids.uid, ids.gid);
  const bin = join(pgs.binDir, "pg_receivewal");
  const conn = ["--host", pgs.socketDir, "--port", String(pgs.port), "--username", "postgres", "--no-password"];
  const created = await $({
    quiet: true,
    nothrow: true,
  })`${asServiceUser("postgres")} ${bin} --create-slot --if-not-exists ${`--slot=${SLOT}`} ${conn}`;
  if (created.exitCode !== 0)
    throw new Error(`pg_receivewal --create-slot failed (exit ${created.exitCode}): ${created.stderr.trim()}`);
  const argv = [
    ...asServiceUser("postgres"),
    bin,
    "--directory",
    dir,
    `--slot=${SLOT}`,
    "--synchronous",
    "--no-loop",
    ...conn,
  ];
  // Its own process group, so a stop reaches pg_receivewal behind runuser.
  const child: ChildProcess = spawn(argv[0]!, argv.slice(1), { detached: true, stdio: ["ignore", "ignore", "pipe"] });
  const stderr: string[] = [];
  child.stderr?.on("data", (d: Buffer) => {
    stderr.push(d.toString());
    if (stderr.length > 20) stderr.shift();
  });
  let exited = false;
  const closed = new Promise<void>((r) => child.on("close", () => ((exited = true), r())));
  // Streaming once the primary lists it (bounded, polled).
  const c = await pgs.client("postgres");
  try {
    for (let i = 0, delay = 20; ; i++, delay = Math.min(delay * 2, 250)) {
      const { rows } = await c.query<{ state: string }>(
        "SELECT state FROM pg_stat_replication WHERE application_name = 'pg_receivewal'",
      );
      if (rows[0]?.state === "streaming") break;
      if (exited || i > 60)
        throw new Error(`pg_receivewal did not start streaming: ${stderr.join("").trim() || "no output"}`);
      await new Promise((r) => setTimeout(r, delay));
    }
  } catch (error) {
    if (!exited) process.kill(-child.pid!, "SIGINT");
    throw error;
  } finally {
    await c.end();
  }
  return {
    dir,
    async flushLagSeconds(client) {
      const { rows } = await client.query<{ s: string | null }>(
        "SELECT extract(epoch FROM flush_lag)::text AS s FROM pg_stat_replication WHERE application_name = 'pg_receivewal'",
      );
      return Number(rows[0]?.s ?? 0);
    },
    async stop() {
      if (!exited) {
        try {
          process.kill(-child.pid!, "SIGINT");
        } catch {
          // already gone
        }
      }
      await closed;
    },
  };
}
