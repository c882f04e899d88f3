/**
 * The privileges digest compares permissions, not their spelling: an explicit ACL equal to the
 * default and a NULL one are the same; the same grants made in another order are the same;
 * default privileges without `IN SCHEMA` are read (the NULL namespace). And it still tells real
 * differences apart: a grant more, a column grant, a default privilege, a policy's roles.
 */
import test from "ava";
import type pg from "pg";
import { masterOf, startPostgres } from "../../rehearsal/stand-ins/postgres.ts";
import { privilegesDigest } from "../../runbooks/postgres/catalog.ts";
import type { LocalPostgres } from "../../runbooks/postgres/cluster.ts";

let shared: LocalPostgres | undefined;
const server = () => masterOf(shared!);
let n = 0;
test.before(async () => {
  shared = await startPostgres();
  await server().query("CREATE ROLE pd_a NOLOGIN; CREATE ROLE pd_b NOLOGIN");
});
test.after.always(() => shared?.destroy());

/** A new database with `sql` run in it by the master role; the caller ends the client. */
async function databaseWith(t: { teardown: (f: () => Promise<void>) => void }, sql: string): Promise<pg.Client> {
  const name = `pd_${++n}`;
  await server().query(`CREATE DATABASE ${name}`);
  const c = await server().client(name);
  t.teardown(() => c.end());
  await c.query(sql);
  return c;
}

const base =
  "CREATE SCHEMA s; CREATE TABLE s.t (id int, secret text); CREATE FUNCTION s.f() RETURNS int LANGUAGE sql AS 'SELECT 1';";

test.serial("an explicit ACL equal to the default digests as a NULL one", async (t) => {
  const plain = await databaseWith(t, base);
  const explicit = await databaseWith(
    t,
    `${base} REVOKE ALL ON s.t FROM CURRENT_USER; GRANT ALL ON s.t TO CURRENT_USER;
     REVOKE EXECUTE ON FUNCTION s.f() FROM PUBLIC; GRANT EXECUTE ON FUNCTION s.f() TO PUBLIC;`,
  );
  const [acl] = (await explicit.query("SELECT relacl IS NOT NULL AS set FROM pg_class WHERE oid = 's.t'::regclass"))
    .rows;
  t.true(acl.set, "the explicit ACL is really there");
  t.is((await privilegesDigest(explicit)).sha256, (await privilegesDigest(plain)).sha256);
});

test.serial("the same grants made in another order digest the same", async (t) => {
  const ab = await databaseWith(t, `${base} GRANT SELECT ON s.t TO pd_a; GRANT SELECT, UPDATE ON s.t TO pd_b;`);
  const ba = await databaseWith(t, `${base} GRANT SELECT, UPDATE ON s.t TO pd_b; GRANT SELECT ON s.t TO pd_a;`);
  const order = async (c: pg.Client) =>
    (await c.query<{ acl: string }>("SELECT relacl::text AS acl FROM pg_class WHERE oid = 's.t'::regclass")).rows[0]!
      .acl;
  t.not(await order(ab), await order(ba), "the ACL texts differ in order");
  t.is((await privilegesDigest(ab)).sha256, (await privilegesDigest(ba)).sha256);
});

test.serial("default privileges without IN SCHEMA are read, and every kind of difference shows", async (t) => {
  const withGlobal = `${base} ALTER DEFAULT PRIVILEGES GRANT SELECT ON TABLES TO pd_a;`;
  const reference = await privilegesDigest(await databaseWith(t, withGlobal));
  t.is(reference.by["default privileges"], 1);
  for (const extra of [
    "GRANT SELECT ON s.t TO pd_b",
    "GRANT SELECT (secret) ON s.t TO pd_b",
    "ALTER DEFAULT PRIVILEGES IN SCHEMA s GRANT USAGE ON SEQUENCES TO pd_b",
    "ALTER TABLE s.t ENABLE ROW LEVEL SECURITY",
    "CREATE POLICY p ON s.t TO pd_a USING (id > 0)",
  ]) {
    const other = await privilegesDigest(await databaseWith(t, `${withGlobal} ${extra};`));
    t.not(other.sha256, reference.sha256, extra);
  }
});
