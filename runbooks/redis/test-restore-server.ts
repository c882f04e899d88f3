/**
 * Throwaway Redis servers on loopback, for the drill, the tests and the benchmarks.
 *
 * Each server gets its own temp directory (config, RDB dir, log), a free port on 127.0.0.1 and
 * a random password (in a 0600 config file, never on the command line). No persistence unless
 * asked; `destroy()` stops it and removes the directory.
 */
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { copyFile, mkdtemp, rm, writeFile, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { $, type ProcessPromise } from "zx";
import { Redis } from "ioredis";
import { freePort } from "../lib/ports.ts";
import { findRedisBinaries } from "./binaries.ts";

export interface LocalRedis {
  readonly baseDir: string;
  readonly port: number;
  readonly password: string;
  readonly logFile: string;
  readonly redisCli: string;
  /** Options for `new Redis(...)`. */
  options(): { host: string; port: number; password: string; maxRetriesPerRequest: number };
  /** A connected ioredis client; the caller quits it. */
  client(): Promise<Redis>;
  /** Environment for `redis-cli` (`REDISCLI_AUTH`), so the password is not in argv. */
  env(): Record<string, string>;
  destroy(): Promise<void>;
}

/** Starts an empty Redis on 127.0.0.1 and waits until it answers PING. */
export async function startRedis(
  options: { prefix?: string; /** An RDB file to load at start (a restore). */ rdbFile?: string } = {},
): Promise<LocalRedis> {
  const bins = await findRedisBinaries();
  const baseDir = await mkdtemp(join(tmpdir(), options.prefix ?? "eventchain-redis-"));
  if (options.rdbFile) await copyFile(options.rdbFile, join(baseDir, "dump.rdb"));
  const port = await freePort();
  const password = randomBytes(18).toString("base64url");
  const conf = join(baseDir, "redis.conf");
  const logFile = join(baseDir, "redis.log");
  await writeFile(
    conf,
    [
      `bind 127.0.0.1`,
      `port ${port}`,
      `protected-mode yes`,
      `requirepass ${password}`,
      `dir ${baseDir}`,
      `dbfilename dump.rdb`,
      `save ""`,
      `appendonly no`,
      // A replica (or redis-cli --rdb) gets its snapshot at once, not after the default 5 s wait for more replicas.
      `repl-diskless-sync-delay 0`,
      `logfile ${logFile}`,
      `daemonize no`,
    ].join("\n") + "\n",
    { mode: 0o600 },
  );
  const proc: ProcessPromise = $({ quiet: true, nothrow: true })`${bins.server} ${conf}`;
  let exited = false;
  void proc.then(() => {
    exited = true;
  });
  const opts = () => ({ host: "127.0.0.1", port, password, maxRetriesPerRequest: 1 });
  const server: LocalRedis = {
    baseDir,
    port,
    password,
    logFile,
    redisCli: bins.cli,
    options: opts,
    async client() {
      const c = new Redis({ ...opts(), lazyConnect: true });
      await c.connect();
      return c;
    },
    env: () => ({ REDISCLI_AUTH: password }),
    async destroy() {
      try {
        if (!exited) {
          await proc.kill("SIGTERM");
          await proc;
        }
      } finally {
        await rm(baseDir, { recursive: true, force: true });
      }
    },
  };
  // Wait until it answers (bounded by attempts with a growing delay, not a fixed sleep).
  let lastError: unknown;
  for (let attempt = 0; attempt < 40; attempt++) {
    if (exited) break;
    const probe = new Redis({ ...opts(), lazyConnect: true, retryStrategy: () => null, enableOfflineQueue: false });
    probe.on("error", () => {});
    try {
      await probe.connect();
      await probe.ping();
      probe.disconnect();
      return server;
    } catch (error) {
      probe.disconnect();
      lastError = error;
      await new Promise((r) => setTimeout(r, Math.min(25 * 2 ** attempt, 500)));
    }
  }
  const log = existsSync(logFile) ? (await readFile(logFile, "utf8")).split("\n").slice(-10).join("\n") : "";
  await server.destroy();
  throw new Error(`redis-server did not answer on 127.0.0.1:${port}: ${String(lastError)}\n${log}`);
}
