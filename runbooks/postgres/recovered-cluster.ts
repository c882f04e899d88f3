/**
 * A cluster a restore created, found again from its data directory alone: a resumed run, or a
 * step after a crash or a reboot, must not rely on a port and a socket some earlier process
 * remembered. The running postmaster says where it listens (`postmaster.pid`); a cluster that is
 * not running is started again on a new free port and a new short socket directory; a cluster
 * that cannot start fails at once with its log's path and last lines.
 */
import { existsSync } from "node:fs";
import { readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { adoptPostgres, serverLogFile } from "./cluster.ts";

export interface ClusterAddress {
  dataDir: string;
  socketDir: string;
  port: number;
  logFile: string;
  pid: number;
}

/** Pure: pid, port and first socket directory from the text of `postmaster.pid`. */
export function parsePostmasterPid(text: string): { pid: number; port: number; socketDir: string } | null {
  const lines = text.split("\n");
  const pid = Number(lines[0]);
  const port = Number(lines[3]);
  const socketDir = lines[4]?.trim() ?? "";
  if (!Number.isInteger(pid) || pid <= 0 || !Number.isInteger(port) || port <= 0) return null;
  return { pid, port, socketDir };
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Where the postmaster of `dataDir` listens, or null when none runs. */
export async function runningPostmaster(dataDir: string, logFile: string): Promise<ClusterAddress | null> {
  const pidFile = join(dataDir, "postmaster.pid");
  if (!existsSync(pidFile)) return null;
  const parsed = parsePostmasterPid(await readFile(pidFile, "utf8").catch(() => ""));
  if (!parsed || !alive(parsed.pid) || !parsed.socketDir) return null;
  return { dataDir, logFile, ...parsed };
}

/** The last `n` lines of a server log, for an error message ("" when there is no log). */
export async function logTail(logFile: string, n = 8): Promise<string> {
  if (!existsSync(logFile)) return "";
  const lines = (await readFile(logFile, "utf8")).trimEnd().split("\n");
  return lines.slice(-n).join("\n");
}

/**
 * The cluster in `dataDir`, running: found through its postmaster, or started again (new free
 * port, new short socket directory, log appended to `logFile`).
 * @throws Error naming the data directory and the log, with its last lines, when it does not start.
 */
export async function ensureClusterRunning(o: {
  binDir: string;
  /** The directory holding its log (`serverLogFile`), as given to `adoptPostgres`. */
  baseDir: string;
  dataDir: string;
  /** Told when a stopped cluster is started again. */
  onRestart?: (message: string) => void;
}): Promise<ClusterAddress & { restarted: boolean }> {
  const logFile = serverLogFile(o.baseDir);
  const found = await runningPostmaster(o.dataDir, logFile);
  if (found) return { ...found, restarted: false };
  if (!existsSync(join(o.dataDir, "PG_VERSION")))
    throw new Error(`${o.dataDir} is not a PostgreSQL data directory (no PG_VERSION): expected a restored cluster`);
  o.onRestart?.(`the cluster in ${o.dataDir} is not running: starting it again (log ${logFile})`);
  const server = await adoptPostgres({ binDir: o.binDir, baseDir: o.baseDir, dataDir: o.dataDir, password: "" });
  let startError: Error | undefined;
  await server.start().catch((e: Error) => (startError = e));
  // pg_ctl stops waiting after its timeout while a long recovery goes on: running is what counts.
  const after = await runningPostmaster(o.dataDir, logFile);
  if (after) return { ...after, restarted: true };
  await rm(server.socketDir, { recursive: true, force: true }); // the new, unused socket directory
  const tail = await logTail(logFile);
  throw new Error(
    `the cluster in ${o.dataDir} does not start (${startError?.message.split("\n")[0] ?? "no postmaster"}): see its log ${logFile}${tail ? `; last lines:\n${tail}` : ""}`,
  );
}
