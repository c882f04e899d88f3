/** The EventChain schema, seeded at the drill's scale; returns the row counts and the highest ids. */
import type { LocalPostgres } from "../../runbooks/postgres/cluster.ts";
import { createDatabase, masterOf } from "../stand-ins/postgres.ts";
import { createSchema, seed } from "../stand-ins/eventchain-schema.ts";
import { type EventChainTable } from "../../runbooks/postgres/eventchain-tables.ts";

export interface Seeded {
  rows: Record<EventChainTable, number>;
  /** Ids above these are the writers' (the seeder numbers rows 1..n). */
  maxTicketId: number;
}

export async function seedDatabase(pgs: LocalPostgres, scale: number): Promise<Seeded> {
  // Owned by the RDS-shaped master role, as on RDS: its backups and restores run as that role.
  const owner = masterOf(pgs);
  await createDatabase(owner, "eventchain");
  const c = await owner.client("eventchain");
  try {
    await createSchema(c);
    const rows = await seed(c, scale);
    const { rows: m } = await c.query<{ m: string }>("SELECT coalesce(max(id), 0)::text AS m FROM tickets");
    return { rows, maxTicketId: Number(m[0]!.m) };
  } finally {
    await c.end();
  }
}
