/**
 * Test-only helpers around the foreign database (rehearsal/stand-ins/foreign-schema.ts): another
 * session's temp table, and dropping the fixture's roles.
 */
import type pg from "pg";
import type { LocalPostgres } from "../../runbooks/postgres/cluster.ts";
import { buildForeignDatabase, FOREIGN_ROLES } from "../../rehearsal/stand-ins/foreign-schema.ts";
import { masterOf } from "../../rehearsal/stand-ins/postgres.ts";

export { buildForeignDatabase, ownRowCounts } from "../../rehearsal/stand-ins/foreign-schema.ts";

/**
 * The foreign database built as on RDS: by the server's master role (not a superuser), which
 * creates the fixture's roles and makes itself a member of the owning one (as an RDS user must,
 * to create objects for it). Everything is owned by the master role or by `fx_owner`.
 */
export async function buildForeignDatabaseAsMaster(
  server: LocalPostgres,
  name = "foreign_db",
  options: { copies?: number } = {},
): Promise<Record<string, number>> {
  const master = masterOf(server);
  await master.query(
    "DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'fx_owner') THEN CREATE ROLE fx_owner NOLOGIN; END IF; END $$",
  );
  await master.query("GRANT fx_owner TO CURRENT_USER");
  return buildForeignDatabase(master, name, options);
}

/**
 * Another session holding a temporary table with rows, as an application's session does all
 * day; end the returned client to drop it.
 */
export async function sessionWithTempTable(server: LocalPostgres, database: string): Promise<pg.Client> {
  const c = await server.client(database);
  await c.query("CREATE TEMP TABLE scratch_work (id int PRIMARY KEY, note text)");
  await c.query("INSERT INTO scratch_work SELECT i, 'temp ' || i FROM generate_series(1, 10) i");
  return c;
}

/** Drops the fixture's roles (after every database that uses them is gone). */
export async function dropForeignRoles(server: LocalPostgres): Promise<void> {
  for (const role of FOREIGN_ROLES) await server.query(`DROP ROLE IF EXISTS "${role.replace(/"/g, '""')}"`);
}
