/** Loopback port helpers shared by the throwaway local servers (PostgreSQL, Redis, moto). */
import { createServer } from "node:net";

/** A free TCP port on 127.0.0.1, asked from the kernel (never a fixed number). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const address = srv.address();
      srv.close(() =>
        typeof address === "object" && address ? resolve(address.port) : reject(new Error("no port assigned")),
      );
    });
  });
}
