/**
 * Start and stop a throwaway moto server (the AWS API emulator) on a free loopback port.
 *
 * Used by the runbook tests and by `npm run drill`. Nothing here talks to real AWS: the server
 * listens on 127.0.0.1 only, keeps its state in memory, and is stopped by the `stop()` it
 * returns (and, as a last resort, when this process exits).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { freePort } from "../lib/ports.ts";

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
  /** Executable; default `moto_server` from PATH. */
  command?: string;
  /** How long to wait for the server to answer, in ms. Default 20000. */
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
  const command = options.command ?? "moto_server";
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

  const deadline = Date.now() + (options.startTimeoutMs ?? 20_000);
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
