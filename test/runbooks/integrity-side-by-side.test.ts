import test from "ava";
import { checkIntegrity } from "../../runbooks/postgres/integrity.ts";
import { postgresFor, seededDatabase } from "../helpers/postgres.ts";

test("the integrity checks give the same verdicts two at a time as one by one, orphans included", async (t) => {
  const server = await postgresFor(t);
  const rows = await seededDatabase(server, "eventchain", 0.1);
  const c = await server.client("eventchain");
  t.teardown(() => c.end());
  // Orphans the way a bad migration or a disabled trigger would leave them.
  await c.query("SET session_replication_role = replica");
  await c.query(
    "INSERT INTO tickets (event_id, user_id, seat, price, status, barcode) VALUES (987654321, NULL, 'Z-1', 10, 'available', 'orphan')",
  );
  await c.query(
    "INSERT INTO payments (user_id, ticket_id, amount, currency, provider_ref, status) VALUES (1, 987654, 1, 'USD', 'x', 'failed')",
  );
  await c.query("SET session_replication_role = origin");
  // The manifest's view: schema-qualified names; payments as before the stray insert.
  const rowCounts = Object.fromEntries(
    Object.entries({ ...rows, tickets: rows.tickets! + 1 }).map(([table, n]) => [`public.${table}`, n]),
  );
  const oneByOne = await checkIntegrity(c, { rowCounts });
  const opened: string[] = [];
  const sideBySide = await checkIntegrity(
    c,
    { rowCounts },
    {
      concurrency: 2,
      connect: async () => {
        const extra = await server.client("eventchain");
        opened.push("extra");
        return extra;
      },
    },
  );
  t.deepEqual(sideBySide, oneByOne);
  t.is(opened.length, 1, "one more connection, closed again");
  const failed = sideBySide.filter((x) => !x.ok).map((x) => `${x.name}: ${x.detail}`);
  t.deepEqual(failed, [
    "table public.payments: 801 rows, manifest has 800",
    "payments_ticket_id_fkey (public.payments → public.tickets): 1 orphan row(s)",
    "tickets_event_id_fkey (public.tickets → public.events): 1 orphan row(s)",
    "tickets.event_id → events.id: 1 orphan row(s)",
  ]);
  // The plan's three checks are reported under their own names, each with the declared key's result.
  t.is(sideBySide.filter((x) => x.kind === "plan-check").length, 3);
  const { rows: left } = await c.query<{ n: string }>(
    "SELECT count(*)::text AS n FROM pg_stat_activity WHERE datname = 'eventchain' AND pid <> pg_backend_pid()",
  );
  t.is(left[0]!.n, "0", "the extra connection is closed");
});
