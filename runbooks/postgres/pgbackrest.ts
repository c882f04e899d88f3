/**
 * Continuous archiving, base backups and point-in-time restore of a self-managed PostgreSQL
 * with pgBackRest (the maintained successor to the plan's WAL-E; the recipe, from the team's notes outside
 * this repository, is summed up in runbooks/docs/point-in-time-restore-pgbackrest.md). Every pgBackRest call runs as the `postgres` user with an
 * explicit `--config=` in a directory it owns; nothing is read from /etc.
 */
import { existsSync } from "node:fs";
import { chown, mkdir, readFile, writeFile } from "node:fs/promises";
import { availableParallelism } from "node:os";
import { dirname, join } from "node:path";
import { $ } from "zx";
import { asServiceUser, confLines, serviceUserIds, type LocalPostgres } from "./cluster.ts";
import { assertNoControl, shQuote, walCommand } from "./shell-command.ts";

export type RepoSpec =
  | { type: "posix"; path: string }
  | {
      type: "s3";
      bucket: string;
      /** Host name in the certificate (pgBackRest ignores IP SANs): `localhost` for a local emulator. */
      endpoint: string;
      port?: number;
      region: string;
      /** Key prefix inside the bucket, e.g. `/pgbackrest`. */
      path: string;
      caFile?: string;
      uriStyle?: "host" | "path";
      /** `shared` for static test keys of an emulator; otherwise `auto` (instance/task role), never keys in files. */
      keyType?: "auto" | "shared";
    };

export interface PgBackRestConfig {
  configFile: string;
  stanza: string;
  /** Directory holding the config, logs, locks and spool. */
  dir: string;
}

/** Pure: a stanza name is a lower-case identifier (it appears in paths and commands). */
export function assertStanza(stanza: string): void {
  if (!/^[a-z][a-z0-9-]{0,62}$/.test(stanza))
    throw new Error(
      `invalid stanza "${stanza}": expected lower-case letters, digits and hyphens, starting with a letter`,
    );
}

/** How the repository compresses what it stores (the stack config's `walArchiving.repositoryCompression`). */
export type RepositoryCompression = "lz4" | "zst" | "none";

/**
 * pgBackRest's copy buffer (`buffer-size`): each process holds a few. 1 MiB is pgBackRest's own
 * default; the bench measured 4 MiB no faster on 2 cores, so the default stays, written out.
 */
export const BUFFER_SIZE = "1MiB";

/** Pure: processes for backup and restore: one per core of this machine (pgBackRest's work is per file). */
export const processesFor = (cores: number = availableParallelism()): number => Math.max(1, Math.min(cores, 16));

/** Pure: the pgbackrest.conf text for a server and a repository. */
export function renderConfig(o: {
  dir: string;
  stanza: string;
  repo: RepoSpec;
  pgPath: string;
  pgPort: number;
  pgSocket: string;
  /** Default: one per core ({@link processesFor}). */
  processMax?: number;
  /** Default lz4 (the stack config's choice is passed in by the caller). */
  compression?: RepositoryCompression;
  /** Full backups kept (pgBackRest expires older ones and their WAL); default 2. */
  retentionFull?: number;
}): string {
  assertStanza(o.stanza);
  for (const [what, value] of Object.entries({
    dir: o.dir,
    pgPath: o.pgPath,
    pgSocket: o.pgSocket,
    repoPath: o.repo.path,
  }))
    assertNoControl(value, what);
  const repo =
    o.repo.type === "posix"
      ? ["repo1-type=posix", `repo1-path=${o.repo.path}`]
      : [
          "repo1-type=s3",
          `repo1-path=${o.repo.path}`,
          `repo1-s3-bucket=${o.repo.bucket}`,
          `repo1-s3-endpoint=${o.repo.endpoint}`,
          `repo1-s3-region=${o.repo.region}`,
          `repo1-s3-uri-style=${o.repo.uriStyle ?? "host"}`,
          `repo1-s3-key-type=${o.repo.keyType ?? "auto"}`,
          ...(o.repo.port ? [`repo1-storage-port=${o.repo.port}`] : []),
          ...(o.repo.caFile ? [`repo1-storage-ca-file=${o.repo.caFile}`] : []),
          "repo1-bundle=y",
        ];
  return [
    "[global]",
    ...repo,
    `repo1-retention-full=${o.retentionFull ?? 2}`,
    `log-path=${join(o.dir, "log")}`,
    `lock-path=${join(o.dir, "lock")}`,
    `spool-path=${join(o.dir, "spool")}`,
    "log-level-console=warn",
    "log-level-file=info",
    `compress-type=${o.compression ?? "lz4"}`,
    `process-max=${o.processMax ?? processesFor()}`,
    `buffer-size=${BUFFER_SIZE}`,
    "start-fast=y",
    "archive-async=n",
    "",
    `[${o.stanza}]`,
    `pg1-path=${o.pgPath}`,
    `pg1-port=${o.pgPort}`,
    `pg1-socket-path=${o.pgSocket}`,
    "pg1-user=postgres",
    "",
  ].join("\n");
}

/**
 * Pure: the archive_command that pushes WAL into `cfg`'s stanza, every value quoted for sh
 * (PostgreSQL runs it with `sh -c`). `extra` are further options, e.g. `--pg1-path=<dir>`.
 */
export function archivePushCommand(cfg: PgBackRestConfig, extra: string[] = []): string {
  return walCommand(
    ["pgbackrest", `--config=${cfg.configFile}`, `--stanza=${cfg.stanza}`, ...extra, "archive-push"],
    ["%p"],
  );
}

/**
 * WAL fetched ahead of replay: pgBackRest's asynchronous archive-get keeps a queue of the next
 * segments in a spool directory of the restored cluster's own, filled by `processes` processes
 * while PostgreSQL replays, so replay waits on its own redo, not on one archive-get per segment.
 */
export interface FetchAhead {
  /** The queue (`spool-path`): the restored cluster's, never the source's. */
  spoolDir: string;
  /** Where the asynchronous process takes its lock (`lock-path`). */
  lockDir: string;
  /** The queue's bound (`archive-get-queue-max`), bytes. */
  queueMaxBytes: number;
  /** Fetching processes (`process-max` of archive-get). */
  processes: number;
}

/** The queue bound: 64 segments of 16 MiB, ahead of replay (pgBackRest's default is 128 MiB). */
export const ARCHIVE_GET_QUEUE_MAX = 1024 ** 3;

/**
 * Pure: the fetch-ahead of a restore into `targetDataDir`: its queue and lock next to the data
 * directory, one fetching process per core left beside the replaying one.
 */
export function fetchAheadFor(targetDataDir: string, cores: number = availableParallelism()): FetchAhead {
  const base = dirname(targetDataDir);
  return {
    spoolDir: join(base, "wal-spool"),
    lockDir: join(base, "wal-lock"),
    queueMaxBytes: ARCHIVE_GET_QUEUE_MAX,
    processes: Math.max(1, Math.min(cores - 1, 8)),
  };
}

/**
 * Pure: the restore_command that fetches WAL from `cfg`'s stanza into the cluster at `pgPath`,
 * quoted like {@link archivePushCommand}; with `ahead`, asynchronously through its queue.
 */
export function archiveGetCommand(cfg: PgBackRestConfig, pgPath: string, ahead?: FetchAhead): string {
  return walCommand(
    [
      "pgbackrest",
      `--config=${cfg.configFile}`,
      `--stanza=${cfg.stanza}`,
      `--pg1-path=${pgPath}`,
      ...(ahead
        ? [
            "--archive-async",
            `--spool-path=${ahead.spoolDir}`,
            `--lock-path=${ahead.lockDir}`,
            `--archive-get-queue-max=${ahead.queueMaxBytes}`,
            `--process-max=${ahead.processes}`,
          ]
        : []),
      "archive-get",
    ],
    ["%f", '"%p"'],
  );
}

/**
 * pgBackRest writes its own `restore_command` into postgresql.auto.conf with the paths in double
 * quotes and nothing escaped: a `'` breaks the file, a `$` or a backtick runs in the shell. This
 * replaces that line with `restoreCommand` — {@link archiveGetCommand}, or
 * {@link streamingRestoreCommand} with a WAL stream directory, each quoted for sh — escaped for
 * the config file.
 */
export async function rewriteRestoreCommand(dataDir: string, restoreCommand: string): Promise<void> {
  const file = join(dataDir, "postgresql.auto.conf");
  const lines = (await readFile(file, "utf8")).split("\n").filter((l) => !/^\s*restore_command\s*=/.test(l));
  while (lines.length && lines[lines.length - 1] === "") lines.pop();
  lines.push(
    "# restore_command rewritten by eventchain-dr: every value quoted for sh",
    confLines({ restore_command: restoreCommand }),
    "",
  );
  await writeFile(file, lines.join("\n"));
}

/** Runs `pgbackrest <args>` as the postgres user with our config; returns stdout. */
export async function pgbackrest(
  cfg: PgBackRestConfig,
  args: string[],
  env: Record<string, string> = {},
): Promise<string> {
  const r = await $({
    quiet: true,
    nothrow: true,
    env: { ...process.env, ...env },
  })`${asServiceUser("postgres")} pgbackrest ${`--config=${cfg.configFile}`} ${`--stanza=${cfg.stanza}`} ${args}`;
  if (r.exitCode !== 0) {
    throw new Error(
      `pgbackrest ${args[0] ?? ""} failed (exit ${r.exitCode}): ${(r.stderr || r.stdout).trim().split("\n").slice(-6).join(" | ")}`,
    );
  }
  return r.stdout;
}

/** Creates each missing directory down to `dir` (0700), owned by postgres when we are root. */
async function mkdirOwnedByPostgres(dir: string): Promise<void> {
  const ids = await serviceUserIds("postgres");
  const missing: string[] = [];
  for (let d = dir; !existsSync(d); d = dirname(d)) missing.unshift(d);
  for (const d of missing) {
    await mkdir(d, { mode: 0o700 });
    if (ids) await chown(d, ids.uid, ids.gid);
  }
}

/** @throws Error naming the Debian package when pgBackRest is not installed. */
export async function assertPgBackRestInstalled(): Promise<string> {
  const r = await $({ quiet: true, nothrow: true })`pgbackrest version`;
  if (r.exitCode !== 0)
    throw new Error(
      "pgbackrest not found on the PATH: install the Debian package pgbackrest (apt-get install pgbackrest)",
    );
  return r.stdout.trim();
}

/**
 * Turns on continuous archiving for `server` into `repo`: writes the config, sets
 * wal_level/archive_mode/archive_command (restart), creates the stanza and runs `check`
 * (which proves a WAL segment reaches the repository).
 */
export async function enableArchiving(
  server: LocalPostgres,
  o: {
    dir: string;
    stanza: string;
    repo: RepoSpec;
    archiveTimeoutSeconds?: number;
    env?: Record<string, string>;
    retentionFull?: number;
    compression?: RepositoryCompression;
  },
): Promise<PgBackRestConfig> {
  await assertPgBackRestInstalled();
  const ids = await serviceUserIds("postgres");
  for (const d of [
    o.dir,
    join(o.dir, "log"),
    join(o.dir, "lock"),
    join(o.dir, "spool"),
    ...(o.repo.type === "posix" ? [o.repo.path] : []),
  ])
    await mkdirOwnedByPostgres(d);
  const cfg: PgBackRestConfig = { configFile: join(o.dir, "pgbackrest.conf"), stanza: o.stanza, dir: o.dir };
  await writeFile(
    cfg.configFile,
    renderConfig({
      dir: o.dir,
      stanza: o.stanza,
      repo: o.repo,
      pgPath: server.dataDir,
      pgPort: server.port,
      pgSocket: server.socketDir,
      retentionFull: o.retentionFull,
      compression: o.compression,
    }),
    { mode: 0o600 },
  );
  if (ids) await chown(cfg.configFile, ids.uid, ids.gid);
  await server.configure({
    wal_level: "replica",
    archive_mode: "on",
    archive_command: archivePushCommand(cfg),
    archive_timeout: o.archiveTimeoutSeconds ?? 60,
    max_wal_senders: 3,
  });
  await server.stop("fast");
  await server.start();
  await pgbackrest(cfg, ["stanza-create"], o.env);
  await pgbackrest(cfg, ["check"], o.env);
  return cfg;
}

export interface BackupInfo {
  label: string;
  type: string;
  startedAt: string;
  stoppedAt: string;
  lsnStart: string;
  lsnStop: string;
  sizeBytes: number;
  repoSizeBytes: number;
}

interface InfoJson {
  name: string;
  status: { code: number; message: string };
  backup: {
    label: string;
    type: string;
    timestamp: { start: number; stop: number };
    lsn: { start: string; stop: string };
    info: { size: number; repository: { delta: number } };
  }[];
  archive: { min: string | null; max: string | null }[];
}

/** `pgbackrest info` for the stanza: the backups (oldest first) and the archived WAL range. */
export async function info(
  cfg: PgBackRestConfig,
  env?: Record<string, string>,
): Promise<{ backups: BackupInfo[]; walMin: string | null; walMax: string | null }> {
  const parsed = JSON.parse(await pgbackrest(cfg, ["info", "--output=json"], env)) as InfoJson[];
  const s = parsed.find((x) => x.name === cfg.stanza);
  if (!s) throw new Error(`pgbackrest info has no stanza "${cfg.stanza}"`);
  return {
    backups: s.backup.map((b) => ({
      label: b.label,
      type: b.type,
      startedAt: new Date(b.timestamp.start * 1000).toISOString(),
      // pgBackRest reports whole seconds; the backup is consistent by the end of that second.
      stoppedAt: new Date((b.timestamp.stop + 1) * 1000).toISOString(),
      lsnStart: b.lsn.start,
      lsnStop: b.lsn.stop,
      sizeBytes: b.info.size,
      repoSizeBytes: b.info.repository.delta,
    })),
    walMin: s.archive[0]?.min ?? null,
    walMax: s.archive[0]?.max ?? null,
  };
}

/** Takes a base backup (`full` or `incr`); returns its info. */
export async function baseBackup(
  cfg: PgBackRestConfig,
  type: "full" | "incr" | "diff" = "full",
  env?: Record<string, string>,
): Promise<BackupInfo> {
  await pgbackrest(cfg, ["backup", `--type=${type}`], env);
  const { backups } = await info(cfg, env);
  const last = backups[backups.length - 1];
  if (!last) throw new Error("pgbackrest backup finished but info lists no backup");
  return last;
}

/** Time of the newest archived WAL segment in the repository (upper bound of what PITR can reach). */
export async function latestArchivedAt(cfg: PgBackRestConfig, env?: Record<string, string>): Promise<Date | null> {
  const out = await pgbackrest(cfg, ["repo-ls", "--recurse", "--output=json", `archive/${cfg.stanza}`], env);
  const entries = JSON.parse(out) as Record<string, { type: string; time?: number }>;
  let newest = 0;
  for (const [name, e] of Object.entries(entries)) {
    if (e.type === "file" && /\/[0-9A-F]{24}-[0-9a-f]{40}/.test(name) && e.time && e.time > newest) newest = e.time;
  }
  // Whole seconds, truncated: the segment was complete by the end of that second.
  return newest ? new Date((newest + 1) * 1000) : null;
}

/**
 * Where recovery stops. `time` (the default): at `time`, inclusive. `end-of-wal`: after every
 * WAL segment it can fetch (the latest recoverable point; a time target past the last commit
 * would make PostgreSQL refuse to start, "recovery ended before the target was reached").
 * `before-xid`: just before transaction `xid` commits (a destructive statement's): everything
 * committed before it in WAL order is replayed, it and everything after are not.
 */
export type RecoveryStop = { kind: "time" } | { kind: "end-of-wal" } | { kind: "before-xid"; xid: string };

/**
 * Pure: the restore_command that reads WAL from the repository first and then from `streamDir`,
 * where pg_receivewal writes (complete segments, then the newest one as `<segment>.partial`);
 * every path quoted for sh like {@link archiveGetCommand}.
 * @throws Error naming the path when it holds a newline or another control character.
 */
export function streamingRestoreCommand(
  cfg: PgBackRestConfig,
  pgPath: string,
  streamDir: string,
  ahead?: FetchAhead,
): string {
  assertNoControl(streamDir, "WAL stream directory");
  const dir = shQuote(`${streamDir.replace(/\/+$/, "")}/`).replace(/%/g, "%%");
  // `'<dir>/'%f` is one sh word: the quoted directory, then the segment name PostgreSQL substitutes.
  return `${archiveGetCommand(cfg, pgPath, ahead)} || cp ${dir}%f "%p" || cp ${dir}%f.partial "%p"`;
}

/**
 * What the recovered server does at its stop. `pause` (the default): it stays read-only at the
 * stop — a hot standby paused at the target, or caught up with every segment it can fetch for
 * the end of the WAL — so it can be verified before anything writes to it, then promoted with
 * `pg_promote()` (no end-of-recovery checkpoint before it takes writes). `promote`: PostgreSQL
 * promotes by itself at the stop, after an immediate end-of-recovery checkpoint.
 */
export type RecoveryAction = "pause" | "promote";

/** Pure: pgBackRest's `restore` arguments for a stop (the target part). */
export function recoveryTargetArgs(
  time: Date,
  stop: RecoveryStop = { kind: "time" },
  action: RecoveryAction = "pause",
): string[] {
  // The end of the WAL has no target to pause at: a standby replays all it can fetch, then waits.
  if (stop.kind === "end-of-wal")
    return [action === "pause" ? "--type=standby" : "--type=default", "--target-timeline=current"];
  if (stop.kind === "before-xid") {
    if (!/^[1-9]\d{0,19}$/.test(stop.xid))
      throw new Error(`invalid transaction id "${stop.xid}": expected a positive integer`);
    return [
      "--type=xid",
      `--target=${stop.xid}`,
      "--target-exclusive",
      `--target-action=${action}`,
      "--target-timeline=current",
    ];
  }
  return ["--type=time", `--target=${toPgTimestamp(time)}`, `--target-action=${action}`, "--target-timeline=current"];
}

/**
 * Restores into an empty `targetDataDir` (created, owned by postgres, 0700) and prepares
 * recovery to `time` with promote; pgBackRest writes `restore_command` and the targets into
 * `postgresql.auto.conf`. The source's data directory is never touched. `time` picks the base
 * backup (the newest finished before it); `stop` says where replay ends (default: at `time`);
 * `walStreamDir` adds WAL streamed by pg_receivewal after the repository's.
 */
export async function restoreToTime(
  cfg: PgBackRestConfig,
  o: {
    targetDataDir: string;
    time: Date;
    env?: Record<string, string>;
    stop?: RecoveryStop;
    walStreamDir?: string;
    /** Default `pause` (see {@link RecoveryAction}). */
    action?: RecoveryAction;
    /** Fetch WAL ahead of replay (default true; false: one archive-get per segment, in turn). */
    fetchAhead?: boolean;
    /** Restore processes (default one per core). */
    processes?: number;
  },
): Promise<void> {
  // Checked before anything is created: a bad xid or path changes nothing.
  const targetArgs = recoveryTargetArgs(o.time, o.stop, o.action);
  const ahead = o.fetchAhead === false ? undefined : fetchAheadFor(o.targetDataDir);
  const restoreCommand = o.walStreamDir
    ? streamingRestoreCommand(cfg, o.targetDataDir, o.walStreamDir, ahead)
    : archiveGetCommand(cfg, o.targetDataDir, ahead);
  const { backups } = await info(cfg, o.env);
  const set = backups.filter((b) => new Date(b.stoppedAt) <= o.time).pop();
  if (!set) {
    throw new Error(
      `no base backup of stanza ${cfg.stanza} finished before ${o.time.toISOString()}: expected a time after ${backups[0]?.stoppedAt ?? "the first backup (there is none)"}`,
    );
  }
  if (existsSync(o.targetDataDir))
    throw new Error(
      `restore target ${o.targetDataDir} already exists: expected a new, empty path (the restore never overwrites a data directory)`,
    );
  const ids = await serviceUserIds("postgres");
  const parent = dirname(o.targetDataDir);
  await mkdirOwnedByPostgres(parent);
  const reach = await $({ quiet: true, nothrow: true })`${asServiceUser("postgres")} test -w ${parent} -a -x ${parent}`;
  if (reach.exitCode !== 0) {
    throw new Error(
      `the postgres user cannot write ${parent} (or a directory above it is closed to it): expected a restore target path it can reach, e.g. under its own directory`,
    );
  }
  await mkdir(o.targetDataDir, { mode: 0o700 });
  if (ids) await chown(o.targetDataDir, ids.uid, ids.gid);
  if (ahead) for (const d of [ahead.spoolDir, ahead.lockDir]) await mkdirOwnedByPostgres(d);
  await pgbackrest(
    cfg,
    [
      "restore",
      `--pg1-path=${o.targetDataDir}`,
      `--set=${set.label}`,
      `--process-max=${o.processes ?? processesFor()}`,
      ...targetArgs,
    ],
    o.env,
  );
  await rewriteRestoreCommand(o.targetDataDir, restoreCommand);
  // PostgreSQL's own prefetching of the blocks the WAL refers to ("try": on where the OS has it).
  await writeFile(
    join(o.targetDataDir, "postgresql.auto.conf"),
    `${await readFile(join(o.targetDataDir, "postgresql.auto.conf"), "utf8")}${confLines({ recovery_prefetch: "try" })}\n`,
  );
}

/** Pure: a Date as a timestamptz literal PostgreSQL parses exactly (microsecond precision, UTC). */
export function toPgTimestamp(d: Date): string {
  return d.toISOString().replace("T", " ").replace("Z", "+00");
}
