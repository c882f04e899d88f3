/** The machine a bench run measured on, as its results record it. */
import { cpus, totalmem } from "node:os";
import type { LocalPostgres } from "../../runbooks/postgres/cluster.ts";

export interface Machine {
  cpus: number;
  cpuModel: string;
  memGiB: number;
  node: string;
  /** Filled in once a server is up ({@link serverVersion}). */
  postgres: string;
}

export function thisMachine(): Machine {
  return {
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model.trim() ?? "unknown",
    memGiB: Math.round(totalmem() / 1024 ** 3),
    node: process.version,
    postgres: "",
  };
}

/** "PostgreSQL 15.x (…)" as the server reports it, without the build platform. */
export async function serverVersion(server: Pick<LocalPostgres, "query">): Promise<string> {
  const [row] = await server.query<{ v: string }>("SELECT split_part(version(), ' on ', 1) AS v");
  return row?.v ?? "PostgreSQL";
}
