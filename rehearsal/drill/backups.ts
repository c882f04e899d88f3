/**
 * The backups a recovery relies on, taken and proven before the disaster: the logical backup
 * (backup-database runbook) and its verification in a scratch database (verify-backup), the Redis
 * backup with a test restore (backup-redis), and the pgBackRest full base backup.
 */
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import type { LocalRedis } from "../../runbooks/redis/test-restore-server.ts";
import { baseBackup, type BackupInfo, type PgBackRestConfig } from "../../runbooks/postgres/pgbackrest.ts";
import { dumpAndUpload } from "../../runbooks/backup-database.ts";
import { testRestore as redisTestRestore } from "../../runbooks/backup-redis.ts";
import { resultIn } from "../../runbooks/lib/recovery-report.ts";
import { verifyStep } from "../../runbooks/verify-backup.ts";
import type { Log } from "./phase.ts";
import type { VerificationSummary } from "./drill-report.ts";
import { runRunbookProcess, type RunbookRun } from "./runbook-process.ts";
import { awsEnvironment, libpqEnvironment, type DrillServers } from "./servers.ts";
import { masterOf } from "../stand-ins/postgres.ts";

export interface RunbookIo {
  stateDir: string;
  log: Log;
  signal?: AbortSignal;
}

/** @throws Error naming the runbook, its exit code and its message when it did not succeed. */
export function expectSucceeded(r: RunbookRun, allowed: number[] = [0]): RunbookRun {
  if (!allowed.includes(r.exitCode)) throw new Error(`${r.runbook} exited ${r.exitCode}: ${r.message}`);
  return r;
}

export async function logicalBackup(s: DrillServers, io: RunbookIo): Promise<{ backupId: string; bytes: number }> {
  const r = expectSucceeded(
    await runRunbookProcess("backup-database", ["--outputs", s.outputsFile, "--connection", "env", "--yes"], {
      ...io,
      env: libpqEnvironment(s, masterOf(s.pg).connection("eventchain")),
    }),
  );
  const out = resultIn(r.report ?? undefined, dumpAndUpload);
  if (!out) throw new Error("backup-database succeeded but reported no backup id");
  return out;
}

export async function redisBackup(s: DrillServers, io: RunbookIo): Promise<number | undefined> {
  await fillRedis(s.redis);
  const r = expectSucceeded(
    await runRunbookProcess(
      "backup-redis",
      [
        "--outputs",
        s.outputsFile,
        "--redis-host",
        "127.0.0.1",
        "--redis-port",
        String(s.redis.port),
        "--test-restore",
        "--yes",
      ],
      { ...io, env: { ...awsEnvironment(s), REDISCLI_AUTH: s.redis.password } },
    ),
  );
  const restored = resultIn(r.report ?? undefined, redisTestRestore);
  return restored && "restoredKeys" in restored ? restored.restoredKeys : undefined;
}

/** Sessions and carts, as the application keeps them. */
async function fillRedis(redis: LocalRedis): Promise<void> {
  const c = await redis.client();
  try {
    const pipe = c.pipeline();
    for (let i = 0; i < 500; i++)
      pipe
        .set(`session:${i}`, randomBytes(24).toString("base64url"), "EX", 3600)
        .hset(`cart:${i}`, { seats: String(1 + (i % 4)), event: String(i % 40) });
    await pipe.exec();
  } finally {
    c.disconnect();
  }
}

/** verify-backup with `args` (`--backup <id>` or `--database <name>`) against a connection. */
export async function verifyBackup(
  s: DrillServers,
  io: RunbookIo & { reportDir: string },
  connection: { host: string; port: number; user: string; password?: string; database: string },
  args: string[],
): Promise<VerificationSummary> {
  const r = await runRunbookProcess(
    "verify-backup",
    ["--outputs", s.outputsFile, "--connection", "env", "--report-dir", io.reportDir, ...args],
    { ...io, env: libpqEnvironment(s, connection) },
  );
  return {
    ok: r.exitCode === 0,
    exitCode: r.exitCode,
    report: resultIn(r.report ?? undefined, verifyStep)?.markdown ?? null,
    message: r.message,
  };
}

export const takeBaseBackup = (cfg: PgBackRestConfig): Promise<BackupInfo> => baseBackup(cfg, "full");

export const verificationDir = (runDir: string) => join(runDir, "verifications");
