/**
 * TLS in front of the S3 emulator, for pgBackRest's S3 repository (it speaks HTTPS only, and
 * `moto_server --ssl` drops TLS connections uncleanly: see shared notes/pgbackrest.md).
 * stunnel4 on 127.0.0.1 with a certificate for DNS:localhost from a throwaway local CA;
 * TCP_NODELAY on both sides (without it each request costs ~47 ms instead of ~10 ms).
 */
import { spawn } from "node:child_process";
import { chmod, mkdtemp, rm, writeFile } from "node:fs/promises";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { $ } from "zx";
import { freePort } from "../../runbooks/lib/ports.ts";

export interface TlsFront {
  /** Port stunnel accepts TLS on (host name: localhost). */
  port: number;
  /** PEM of the CA that signed the certificate (for `repo1-storage-ca-file`). */
  caFile: string;
  stop(): Promise<void>;
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: "127.0.0.1", port }, () => {
      s.destroy();
      resolve(true);
    });
    s.on("error", () => resolve(false));
  });
}

/** Starts stunnel: TLS on a free loopback port → plain HTTP on `targetPort`. */
export async function startTlsFront(targetPort: number): Promise<TlsFront> {
  const dir = await mkdtemp(join(tmpdir(), "eventchain-bench-tls-"));
  await chmod(dir, 0o755);
  const sh = $({ quiet: true, cwd: dir });
  try {
    await sh`openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=eventchain-bench-ca -keyout ca.key -out ca.pem`;
    await sh`openssl req -newkey rsa:2048 -nodes -subj /CN=localhost -keyout server.key -out server.csr`;
    await writeFile(join(dir, "san.ext"), "subjectAltName=DNS:localhost\n");
    await sh`openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 1 -extfile san.ext -out server.pem`;
    await chmod(join(dir, "ca.pem"), 0o644);
    await chmod(join(dir, "server.key"), 0o600);
    await rm(join(dir, "ca.key"));
    const port = await freePort();
    await writeFile(
      join(dir, "stunnel.conf"),
      [
        "foreground = yes",
        `pid =`,
        "debug = 3",
        "[s3]",
        `accept = 127.0.0.1:${port}`,
        `connect = 127.0.0.1:${targetPort}`,
        `cert = ${join(dir, "server.pem")}`,
        `key = ${join(dir, "server.key")}`,
        "socket = l:TCP_NODELAY=1",
        "socket = r:TCP_NODELAY=1",
        "",
      ].join("\n"),
    );
    const child = spawn("stunnel4", [join(dir, "stunnel.conf")], { stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr!.on("data", (c: Buffer) => (stderr = (stderr + c.toString()).slice(-2000)));
    const killOnExit = () => child.kill("SIGKILL");
    process.once("exit", killOnExit);
    for (let i = 0; i < 100 && !(await accepts(port)); i++) {
      if (child.exitCode !== null) throw new Error(`stunnel4 exited (${child.exitCode}): ${stderr.trim()}`);
      await sleep(50);
    }
    if (!(await accepts(port))) throw new Error(`stunnel4 did not accept on 127.0.0.1:${port}: ${stderr.trim()}`);
    return {
      port,
      caFile: join(dir, "ca.pem"),
      async stop() {
        process.removeListener("exit", killOnExit);
        if (child.exitCode === null && child.signalCode === null) {
          const exited = new Promise((r) => child.once("exit", r));
          child.kill("SIGTERM");
          await exited;
        }
        await rm(dir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
}
