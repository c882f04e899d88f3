/** The tools the drill needs, each with the package that provides it. */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { findMotoServer, MOTO_NOT_FOUND } from "../stand-ins/moto.ts";
import { findPostgresBinDir } from "../../runbooks/postgres/cluster.ts";
import { assertPgBackRestInstalled } from "../../runbooks/postgres/pgbackrest.ts";
import { findRedisBinaries } from "../../runbooks/redis/binaries.ts";

/** @throws Error naming what is missing and how to install it. */
export async function preflight(o: { streaming: boolean }): Promise<void> {
  const problems: string[] = [];
  const bin = await findPostgresBinDir().catch((e: Error) => (problems.push(e.message), undefined));
  for (const check of [findRedisBinaries, assertPgBackRestInstalled]) {
    await check().catch((e: Error) => problems.push(e.message));
  }
  if (o.streaming && bin && !existsSync(join(bin, "pg_receivewal")))
    problems.push(`pg_receivewal not found in ${bin}: install the Debian package postgresql-15 (it ships it)`);
  if (findMotoServer() === undefined) problems.push(MOTO_NOT_FOUND);
  if (problems.length)
    throw new Error(
      `the drill needs these installed (npm run drill installs them all):\n  - ${problems.join("\n  - ")}`,
    );
}
