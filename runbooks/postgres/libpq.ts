/** Running PostgreSQL's client tools (pg_dump, pg_restore, pg_dumpall) for a connection. */
import { spawn } from "node:child_process";
import type { Readable } from "node:stream";
import type { PgConnection } from "./cluster.ts";

/** libpq environment for a connection: the password never appears in argv. */
export function libpqEnv(conn: PgConnection): NodeJS.ProcessEnv {
  return {
    ...process.env,
    PGHOST: conn.host,
    PGPORT: String(conn.port),
    PGUSER: conn.user,
    PGPASSWORD: conn.password,
    PGDATABASE: conn.database,
    PGAPPNAME: "eventchain-dr",
    // A connection resolved from the stack carries TLS settings: libpq verifies the server too.
    ...("ssl" in conn && conn.ssl ? { PGSSLMODE: "verify-full" } : {}),
  };
}

/**
 * Runs a client tool; stdout is returned as a stream, stderr kept (its last lines) for the
 * error. `done` rejects with the tool's name, exit status and last stderr lines.
 */
export function runTool(
  bin: string,
  args: string[],
  env: NodeJS.ProcessEnv,
): { stdout: Readable; done: Promise<void>; stderr: () => string } {
  const child = spawn(bin, args, { env, stdio: ["ignore", "pipe", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (d: Buffer) => (stderr = (stderr + d.toString()).slice(-8000)));
  const done = new Promise<void>((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code, signal) =>
      code === 0
        ? resolve()
        : reject(new Error(`${bin.split("/").pop()} exited with ${code ?? signal}: ${lastLines(stderr)}`)),
    );
  });
  return { stdout: child.stdout, done, stderr: () => stderr };
}

/** Pure: the last lines of a tool's stderr, on one line. */
export const lastLines = (text: string, n = 5): string => text.trim().split("\n").slice(-n).join(" | ");
