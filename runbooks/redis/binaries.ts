/** Where the Redis binaries are: the backup runbook, its export check, test restores and the throwaway servers share it. */
import { $ } from "zx";

const PACKAGES: Record<string, string> = {
  "redis-server": "redis-server",
  "redis-cli": "redis-tools",
  "redis-check-rdb": "redis-tools",
};

/**
 * Finds `redis-server`, `redis-cli` and `redis-check-rdb` on the PATH.
 * @throws Error naming the missing binary and the Debian package that has it.
 */
export async function findRedisBinaries(): Promise<{ server: string; cli: string; checkRdb: string }> {
  const found: Record<string, string> = {};
  for (const bin of Object.keys(PACKAGES)) {
    const r = await $({ quiet: true, nothrow: true })`which ${bin}`;
    if (r.exitCode !== 0)
      throw new Error(
        `${bin} not found on the PATH: install the Debian package ${PACKAGES[bin]} (apt-get install redis-server redis-tools)`,
      );
    found[bin] = r.stdout.trim();
  }
  return { server: found["redis-server"]!, cli: found["redis-cli"]!, checkRdb: found["redis-check-rdb"]! };
}
