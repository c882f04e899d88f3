/**
 * A "foreign" database, for the tests and the bench: one this project did not design, with what real databases have and
 * the EventChain schema lacks. Table inheritance (a child with its own foreign key, a child
 * without one whose rows point nowhere, legally), declarative partitioning with a foreign key
 * from a partitioned table to a partitioned table, two extra schemas (one with a quoted
 * mixed-case name), quoted mixed-case and spaced table and column names, large objects, a
 * row-security policy, objects owned by a non-superuser role, GRANTs to two roles (one of them
 * with a quoted name) including a column GRANT, a REVOKE, default privileges, an unlogged
 * table, comments, a standalone sequence and an identity column.
 *
 * Roles are cluster-wide: they are created once per server and shared by every foreign
 * database built on it. `copies` adds that many more schemas like `sales` (two partitioned
 * tables of two partitions each, their keys, grants and policy), for many relations at once.
 */
import type pg from "pg";
import type { LocalPostgres } from "../../runbooks/postgres/cluster.ts";
import { createDatabase } from "./postgres.ts";

/** The roles the fixture creates (cluster-wide), as SQL identifiers. */
export const FOREIGN_ROLES = ["fx_owner", "fx_reader", "Fx Writer"] as const;

const ROLES_SQL = `
DO $$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'fx_owner') THEN CREATE ROLE fx_owner NOLOGIN; END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'fx_reader') THEN CREATE ROLE fx_reader NOLOGIN; END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'Fx Writer') THEN
    CREATE ROLE "Fx Writer" LOGIN PASSWORD 'fx-writer-password' CONNECTION LIMIT 5;
    GRANT fx_reader TO "Fx Writer";
    ALTER ROLE "Fx Writer" SET statement_timeout = '30s';
    COMMENT ON ROLE "Fx Writer" IS 'writes orders; member of fx_reader';
  END IF;
END $$;
`;

const SCHEMA_SQL = `
CREATE SCHEMA sales AUTHORIZATION fx_owner;
CREATE SCHEMA "Audit" AUTHORIZATION fx_owner;
COMMENT ON SCHEMA "Audit" IS 'who did what';
REVOKE ALL ON SCHEMA public FROM PUBLIC;
GRANT USAGE ON SCHEMA public, sales, "Audit" TO fx_reader;

CREATE TABLE public.accounts (id bigint PRIMARY KEY, name text NOT NULL);
-- Inheritance: the parent's foreign key covers the parent's own rows only (FKs are not inherited).
CREATE TABLE public.notes (id bigint PRIMARY KEY, account_id bigint REFERENCES public.accounts (id), body text NOT NULL);
CREATE TABLE public.notes_archive (
  archived_at timestamptz NOT NULL DEFAULT '2025-06-01',
  CONSTRAINT notes_archive_account_fk FOREIGN KEY (account_id) REFERENCES public.accounts (id)
) INHERITS (public.notes);
-- Imported notes point at accounts of another system: no foreign key, on purpose.
CREATE TABLE public.notes_imported () INHERITS (public.notes);

CREATE TABLE public."MixedCase" ("Id" int PRIMARY KEY, "Label" text NOT NULL);
CREATE TABLE "Audit"."Event Log" (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  "Mixed Ref" int REFERENCES public."MixedCase" ("Id"),
  happened_at timestamptz NOT NULL,
  detail jsonb NOT NULL
);
COMMENT ON COLUMN "Audit"."Event Log".detail IS 'free-form; never a secret';

-- Partitioning, with a foreign key from a partitioned table to a partitioned table.
CREATE TABLE sales.orders (
  id bigint NOT NULL,
  ordered_on date NOT NULL,
  account_id bigint NOT NULL REFERENCES public.accounts (id),
  total numeric(10, 2) NOT NULL,
  PRIMARY KEY (id, ordered_on)
) PARTITION BY RANGE (ordered_on);
CREATE TABLE sales.orders_2024 PARTITION OF sales.orders FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
CREATE TABLE sales.orders_2025 PARTITION OF sales.orders FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
CREATE TABLE sales.order_lines (
  order_id bigint NOT NULL,
  ordered_on date NOT NULL,
  line int NOT NULL,
  sku text NOT NULL,
  qty int NOT NULL CHECK (qty > 0),
  PRIMARY KEY (order_id, ordered_on, line),
  CONSTRAINT order_lines_order_fk FOREIGN KEY (order_id, ordered_on) REFERENCES sales.orders (id, ordered_on)
) PARTITION BY HASH (order_id);
CREATE TABLE sales.order_lines_0 PARTITION OF sales.order_lines FOR VALUES WITH (MODULUS 2, REMAINDER 0);
CREATE TABLE sales.order_lines_1 PARTITION OF sales.order_lines FOR VALUES WITH (MODULUS 2, REMAINDER 1);
COMMENT ON TABLE sales.orders IS 'orders; partitioned by year';

CREATE SEQUENCE sales.invoice_no START 1000;
CREATE TABLE public.documents (id int PRIMARY KEY, title text NOT NULL, content oid NOT NULL);
CREATE UNLOGGED TABLE public.session_cache (key text PRIMARY KEY, value text NOT NULL);
CREATE VIEW sales.order_totals AS SELECT account_id, sum(total) AS total FROM sales.orders GROUP BY account_id;

-- Row security.
ALTER TABLE sales.orders ENABLE ROW LEVEL SECURITY;
CREATE POLICY small_orders ON sales.orders FOR SELECT TO fx_reader USING (total < 500);

-- Owners other than the superuser.
ALTER TABLE sales.orders OWNER TO fx_owner;
ALTER TABLE sales.orders_2024 OWNER TO fx_owner;
ALTER TABLE sales.orders_2025 OWNER TO fx_owner;
ALTER TABLE sales.order_lines OWNER TO fx_owner;
ALTER TABLE sales.order_lines_0 OWNER TO fx_owner;
ALTER TABLE sales.order_lines_1 OWNER TO fx_owner;
ALTER SEQUENCE sales.invoice_no OWNER TO fx_owner;
ALTER VIEW sales.order_totals OWNER TO fx_owner;
ALTER TABLE "Audit"."Event Log" OWNER TO fx_owner;

-- GRANTs to two roles, a column GRANT, a REVOKE, default privileges.
GRANT SELECT ON ALL TABLES IN SCHEMA sales TO fx_reader;
GRANT SELECT, INSERT, UPDATE ON sales.orders, sales.order_lines TO "Fx Writer";
GRANT USAGE ON SEQUENCE sales.invoice_no TO "Fx Writer";
GRANT SELECT (id, name) ON public.accounts TO fx_reader;
GRANT ALL ON "Audit"."Event Log" TO "Fx Writer";
REVOKE DELETE, TRUNCATE ON "Audit"."Event Log" FROM "Fx Writer";
GRANT SELECT ON public.documents, public."MixedCase" TO fx_reader;
ALTER DEFAULT PRIVILEGES FOR ROLE fx_owner IN SCHEMA sales GRANT SELECT ON TABLES TO fx_reader;
ALTER DEFAULT PRIVILEGES FOR ROLE fx_owner IN SCHEMA sales GRANT USAGE ON SEQUENCES TO "Fx Writer";
`;

/** One more schema like `sales`: partitioned orders and lines of two partitions each, keys, grants, a policy. */
const salesCopySql = (schema: string) => `
CREATE SCHEMA ${schema} AUTHORIZATION fx_owner;
GRANT USAGE ON SCHEMA ${schema} TO fx_reader;
CREATE TABLE ${schema}.orders (id bigint NOT NULL, ordered_on date NOT NULL, account_id bigint NOT NULL REFERENCES public.accounts (id),
  total numeric(10, 2) NOT NULL, PRIMARY KEY (id, ordered_on)) PARTITION BY RANGE (ordered_on);
CREATE TABLE ${schema}.orders_2024 PARTITION OF ${schema}.orders FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
CREATE TABLE ${schema}.orders_2025 PARTITION OF ${schema}.orders FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
CREATE TABLE ${schema}.order_lines (order_id bigint NOT NULL, ordered_on date NOT NULL, line int NOT NULL, qty int NOT NULL,
  PRIMARY KEY (order_id, ordered_on, line), FOREIGN KEY (order_id, ordered_on) REFERENCES ${schema}.orders (id, ordered_on))
  PARTITION BY HASH (order_id);
CREATE TABLE ${schema}.order_lines_0 PARTITION OF ${schema}.order_lines FOR VALUES WITH (MODULUS 2, REMAINDER 0);
CREATE TABLE ${schema}.order_lines_1 PARTITION OF ${schema}.order_lines FOR VALUES WITH (MODULUS 2, REMAINDER 1);
ALTER TABLE ${schema}.orders ENABLE ROW LEVEL SECURITY;
CREATE POLICY small_orders ON ${schema}.orders FOR SELECT TO fx_reader USING (total < 500);
GRANT SELECT ON ALL TABLES IN SCHEMA ${schema} TO fx_reader;
INSERT INTO ${schema}.orders SELECT i, date '2024-01-01' + (i * 7), 1 + i % 200, i FROM generate_series(1, 100) i;
INSERT INTO ${schema}.order_lines SELECT o.id, o.ordered_on, l, l FROM ${schema}.orders o, generate_series(1, 2) l;
`;

const DATA_SQL = `
INSERT INTO public.accounts SELECT i, 'account ' || i FROM generate_series(1, 200) i;
INSERT INTO public.notes SELECT i, 1 + i % 200, 'note ' || i FROM generate_series(1, 100) i;
INSERT INTO public.notes_archive (id, account_id, body) SELECT i, 1 + i % 200, 'archived ' || i FROM generate_series(101, 150) i;
INSERT INTO public.notes_imported SELECT i, 9000 + i, 'imported ' || i FROM generate_series(151, 180) i;
INSERT INTO public."MixedCase" SELECT i, 'Label ' || i FROM generate_series(1, 20) i;
INSERT INTO "Audit"."Event Log" ("Mixed Ref", happened_at, detail)
  SELECT 1 + i % 20, timestamptz '2025-01-01' + i * interval '1 hour', jsonb_build_object('n', i) FROM generate_series(1, 50) i;
INSERT INTO sales.orders SELECT i, date '2024-01-01' + (i * 2), 1 + i % 200, (i * 7) % 1000 FROM generate_series(1, 300) i;
INSERT INTO sales.order_lines SELECT o.id, o.ordered_on, l, 'SKU-' || l, l FROM sales.orders o, generate_series(1, 3) l;
SELECT setval('sales.invoice_no', 1042);
INSERT INTO public.documents VALUES
  (1, 'terms', lo_from_bytea(0, 'terms and conditions')),
  (2, 'privacy', lo_from_bytea(0, 'privacy policy')),
  (3, 'empty', lo_from_bytea(0, ''));
INSERT INTO public.session_cache SELECT 'session-' || i, md5(i::text) FROM generate_series(1, 25) i;
`;

/**
 * Creates database `name` with the foreign schema and data (the roles once per server).
 * Returns the exact row counts of every table with rows of its own (`ONLY`), as PostgreSQL
 * quotes their names.
 */
export async function buildForeignDatabase(
  server: LocalPostgres,
  name = "foreign_db",
  options: { copies?: number } = {},
): Promise<Record<string, number>> {
  const copies = options.copies ?? 0;
  if (!Number.isInteger(copies) || copies < 0 || copies > 2000)
    throw new Error(`invalid copies ${String(copies)}: expected an integer 0-2000`);
  await server.query(ROLES_SQL);
  await createDatabase(server, name);
  const c = await server.client(name);
  try {
    await c.query(SCHEMA_SQL);
    await c.query(DATA_SQL);
    for (let i = 1; i <= copies; i++) await c.query(salesCopySql(`sales_${i}`));
    await c.query("GRANT SELECT ON LARGE OBJECT " + (await largeObjectOids(c)).join(", ") + " TO fx_reader");
    await c.query("ANALYZE");
    return await ownRowCounts(c);
  } finally {
    await c.end();
  }
}

async function largeObjectOids(c: pg.Client): Promise<string[]> {
  const { rows } = await c.query<{ oid: string }>("SELECT oid::text FROM pg_largeobject_metadata ORDER BY oid");
  return rows.map((r) => r.oid);
}

/** Exact rows of every ordinary table (its own rows: `ONLY`), named `format('%I.%I')`. */
export async function ownRowCounts(c: pg.Client): Promise<Record<string, number>> {
  const { rows: tables } = await c.query<{ name: string }>(
    `SELECT format('%I.%I', n.nspname, t.relname) AS name FROM pg_class t JOIN pg_namespace n ON n.oid = t.relnamespace
     WHERE t.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%' ORDER BY 1`,
  );
  const counts: Record<string, number> = {};
  for (const { name } of tables) {
    const { rows } = await c.query<{ n: string }>(`SELECT count(*) AS n FROM ONLY ${name}`);
    counts[name] = Number(rows[0]!.n);
  }
  return counts;
}
