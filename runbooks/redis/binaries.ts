/** Where the Redis binaries are: the backup runbook, its test restore and the throwaway servers share it. */
import { $ } from "zx";

/**
 * Finds `redis-server` and `redis-cli` on the PATH.
 * @throws Error naming the Debian packages when missing.
 */
export async function findRedisBinaries(): Promise<{ server: string; cli: string }> {
  const server = await $({ quiet: true, nothrow: true })`which redis-server`;
  const cli = await $({ quiet: true, nothrow: true })`which redis-cli`;
  if (server.exitCode !== 0 || cli.exitCode !== 0) {
    throw new Error(
      `${server.exitCode !== 0 ? "redis-server" : "redis-cli"} not found on the PATH: install the Debian packages redis-server and redis-tools (apt-get install redis-server redis-tools)`,
    );
  }
  return { server: server.stdout.trim(), cli: cli.stdout.trim() };
}
