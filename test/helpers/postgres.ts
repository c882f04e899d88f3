/**
 * Throwaway PostgreSQL for tests: started per test (or file), stopped in teardown even when the
 * test fails. Seeded with the EventChain schema at a small scale.
 */
import type { ExecutionContext } from "ava";
import { $ } from "zx";
import { type LocalPostgres } from "../../runbooks/postgres/cluster.ts";
import {
  createDatabase,
  masterOf,
  startPostgres,
  type StartPostgresOptions,
} from "../../rehearsal/stand-ins/postgres.ts";
import { createSchema, seed } from "../../rehearsal/stand-ins/eventchain-schema.ts";
import { EVENTCHAIN_TABLES } from "../../runbooks/postgres/eventchain-tables.ts";

/** A fresh server for this test; destroyed in teardown. */
export async function postgresFor(t: ExecutionContext, options: StartPostgresOptions = {}): Promise<LocalPostgres> {
  const server = await startPostgres(options);
  t.teardown(() => server.destroy());
  return server;
}

/**
 * A fresh server seen as its RDS-shaped master role (docs/rds-shaped-postgres.md): what every
 * logical backup, restore and verification of the tests connects as. Destroyed in teardown.
 */
export async function rdsPostgresFor(t: ExecutionContext, options: StartPostgresOptions = {}): Promise<LocalPostgres> {
  return masterOf(await postgresFor(t, options));
}

/** Creates database `name` with the EventChain schema, seeded at `scale`. */
export async function seededDatabase(
  server: LocalPostgres,
  name = "eventchain",
  scale = 0.1,
): Promise<Record<string, number>> {
  await createDatabase(server, name);
  const client = await server.client(name);
  try {
    await createSchema(client);
    return await seed(client, scale);
  } finally {
    await client.end();
  }
}

/**
 * A canonical text form of a database: its schema (pg_dump --schema-only) and every table's rows
 * ordered by primary key. Two databases with the same content give the same string.
 */
export async function canonicalDump(server: LocalPostgres, database: string): Promise<string> {
  const env = { ...process.env, ...server.env(database) };
  const schema = await $({
    env,
    quiet: true,
  })`${server.binDir}/pg_dump --schema-only --no-owner --no-privileges ${database}`;
  const parts = [
    schema.stdout
      .split("\n")
      .filter((l) => !l.startsWith("--") && !l.startsWith("\\restrict") && !l.startsWith("\\unrestrict"))
      .join("\n"),
  ];
  const client = await server.client(database);
  try {
    for (const t of EVENTCHAIN_TABLES) {
      const { rows } = await client.query(`SELECT * FROM ${t} ORDER BY id`);
      parts.push(`-- ${t}\n${rows.map((r) => JSON.stringify(r)).join("\n")}`);
    }
  } finally {
    await client.end();
  }
  return parts.join("\n");
}
