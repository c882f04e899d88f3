/**
 * The recovered cluster, from the drill's side: the writer rows it holds (read while it is held
 * read-only at its stop, before anything writes to it) and the application's first write, which
 * marks it ready for writes.
 * Connects over its Unix socket (local trust, a 0700 directory), as the engine started it.
 */
import pg from "pg";
import { sellTicket } from "../stand-ins/eventchain-schema.ts";
import type { Restored } from "./recover.ts";

async function connect(r: Restored): Promise<pg.Client> {
  const c = new pg.Client({ host: r.socketDir, port: r.port, user: "postgres", database: "eventchain" });
  c.on("error", () => {});
  await c.connect();
  return c;
}

export interface RowsBack {
  writerTickets: Set<number>;
  writerTicketsWithPayment: Set<number>;
  payments: number;
}

/** Writer rows (ids above the seeded ones) the recovered database holds. */
export async function rowsBack(r: Restored, maxSeededTicketId: number): Promise<RowsBack> {
  const c = await connect(r);
  try {
    const t = await c.query<{ id: string }>("SELECT id::text FROM tickets WHERE id > $1", [maxSeededTicketId]);
    const p = await c.query<{ t: string }>("SELECT ticket_id::text AS t FROM payments WHERE ticket_id > $1", [
      maxSeededTicketId,
    ]);
    const n = await c.query<{ n: string }>("SELECT count(*)::text AS n FROM payments");
    return {
      writerTickets: new Set(t.rows.map((x) => Number(x.id))),
      writerTicketsWithPayment: new Set(p.rows.map((x) => Number(x.t))),
      payments: Number(n.rows[0]!.n),
    };
  } finally {
    await c.end();
  }
}

/**
 * The application's first sale on the recovered database, as soon as it takes writes: it asks,
 * a few milliseconds apart, whether the server still recovers (held read-only at its stop while
 * the runbook verifies it), then sells; resolves when the sale is committed.
 */
export async function firstWrite(r: Restored, o: { timeoutMs?: number } = {}): Promise<{ ticketId: number; at: Date }> {
  const c = await connect(r);
  try {
    const deadline = Date.now() + (o.timeoutMs ?? 30 * 60_000);
    for (;;) {
      const { rows } = await c.query<{ rec: boolean }>("SELECT pg_is_in_recovery() AS rec");
      if (!rows[0]!.rec) break;
      if (Date.now() > deadline) throw new Error("the recovered server was not promoted in time for the first sale");
      await new Promise((res) => setTimeout(res, 10));
    }
    const ticketId = await sellTicket(c);
    return { ticketId, at: new Date() };
  } finally {
    await c.end();
  }
}
