/**
 * Start and stop a throwaway moto server (the AWS API emulator) on a free loopback port.
 *
 * Used by the runbook tests and by `npm run drill`. Nothing here talks to real AWS: the server
 * listens on 127.0.0.1 only, keeps its state in memory, and is stopped by the `stop()` it
 * returns (and, as a last resort, when this process exits).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { accessSync, constants } from "node:fs";
import { delimiter, join } from "node:path";
import { fileURLToPath } from "node:url";
import { freePort } from "../../runbooks/lib/ports.ts";

/** Where `npm run drill` and `npm test` install moto (scripts/setup/requirements.mjs, MOTO.executable). */
export const PROJECT_MOTO_SERVER = fileURLToPath(new URL("../../.venv/bin/moto_server", import.meta.url));

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** moto_server from the project's venv, else the first on the PATH; undefined when neither has it. */
export function findMotoServer(
  env: NodeJS.ProcessEnv = process.env,
  projectServer = PROJECT_MOTO_SERVER,
): string | undefined {
  if (isExecutable(projectServer)) return projectServer;
  return (env.PATH ?? "")
    .split(delimiter)
    .filter((dir) => dir !== "")
    .map((dir) => join(dir, "moto_server"))
    .find(isExecutable);
}

/** Says where moto is looked for and how to get it. */
export const MOTO_NOT_FOUND =
  `moto_server not found in ${PROJECT_MOTO_SERVER} or on the PATH: ` +
  "npm run drill and npm test install it there (or: pip install 'moto[server]==5.2.1')";

export interface MotoServer {
  /** e.g. http://127.0.0.1:41234 — pass as `endpoint` or `AWS_ENDPOINT_URL`. */
  endpoint: string;
  port: number;
  pid: number;
  /** `POST /moto-api/reset`: clears every region's state. */
  reset(): Promise<void>;
  /** Stops the server this call started (SIGTERM, then SIGKILL after `graceMs`). */
  stop(graceMs?: number): Promise<void>;
}

export interface StartMotoOptions {
  /** Executable; default `findMotoServer()`: the project's venv, then the PATH. */
  command?: string;
  /**
   * How long to wait for the server to answer, in ms. Default 60000: it answers in 1–3 s on a
   * quiet machine, and a loaded one (five suites on two cores) must not fail a test for it.
   */
  startTimeoutMs?: number;
}

async function answers(endpoint: string): Promise<boolean> {
  try {
    const res = await fetch(`${endpoint}/moto-api/data.json`, { signal: AbortSignal.timeout(1000) });
    await res.arrayBuffer();
    return res.ok;
  } catch {
    return false;
  }
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once("exit", () => resolve()));
}

async function startOnce(port: number, options: StartMotoOptions): Promise<MotoServer | undefined> {
  const command = options.command ?? findMotoServer();
  if (command === undefined) throw new Error(MOTO_NOT_FOUND);
  const endpoint = `http://127.0.0.1:${port}`;
  const child = spawn(command, ["-H", "127.0.0.1", "-p", String(port)], {
    stdio: ["ignore", "ignore", "pipe"],
    env: { ...process.env, PYTHONUNBUFFERED: "1" },
  });
  let stderr = "";
  child.stderr?.on("data", (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  });
  const killOnExit = () => child.kill("SIGKILL");
  process.once("exit", killOnExit);

  const deadline = Date.now() + (options.startTimeoutMs ?? 60_000);
  while (Date.now() < deadline) {
    if (child.exitCode !== null) break;
    if (await answers(endpoint)) {
      const server: MotoServer = {
        endpoint,
        port,
        pid: child.pid ?? -1,
        async reset() {
          const res = await fetch(`${endpoint}/moto-api/reset`, { method: "POST" });
          await res.arrayBuffer();
          if (!res.ok) throw new Error(`moto reset failed: HTTP ${res.status}`);
        },
        async stop(graceMs = 3000) {
          process.removeListener("exit", killOnExit);
          if (child.exitCode !== null || child.signalCode !== null) return;
          child.kill("SIGTERM");
          const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
          await exited(child);
          clearTimeout(timer);
        },
      };
      return server;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  process.removeListener("exit", killOnExit);
  child.kill("SIGKILL");
  await exited(child);
  if (/address already in use/i.test(stderr)) return undefined;
  throw new Error(
    `moto_server did not start on ${endpoint}: ${stderr.trim().split("\n").slice(-3).join(" | ") || "no output"}`,
  );
}

/** Starts moto on a free loopback port; retries with another port if one was taken meanwhile. */
export async function startMoto(options: StartMotoOptions = {}): Promise<MotoServer> {
  for (let attempt = 0; attempt < 3; attempt++) {
    const server = await startOnce(await freePort(), options);
    if (server) return server;
  }
  throw new Error("moto_server could not bind a free loopback port after 3 attempts");
}
