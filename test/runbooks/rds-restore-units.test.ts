/**
 * The pure parts of a restore as RDS's master user: what the roles script carries of a role, the
 * two lists a restore runs pg_restore with, and which failures are worth one more backup.
 */
import test from "ava";
import { changedUnderDump, derivedName, needsRoles } from "../../runbooks/postgres/logical.ts";
import {
  carriedAttributes,
  carriedStatements,
  isReservedRole,
  parseRoleScript,
} from "../../runbooks/postgres/roles.ts";
import { restoreLists } from "../../runbooks/postgres/toc.ts";

test("a role's attributes are reduced to what a CREATEROLE non-superuser may set, naming what is left out", (t) => {
  const full = `ALTER ROLE "Fx Writer" WITH SUPERUSER INHERIT NOCREATEROLE CREATEDB LOGIN REPLICATION BYPASSRLS CONNECTION LIMIT 5 PASSWORD 'SCRAM-SHA-256$4096:a$b:c' VALID UNTIL '2030-01-01 00:00:00+00'`;
  const without = carriedAttributes("Fx Writer", full, false);
  t.is(
    without.sql,
    `ALTER ROLE "Fx Writer" WITH INHERIT NOCREATEROLE CREATEDB LOGIN CONNECTION LIMIT 5 VALID UNTIL '2030-01-01 00:00:00+00'`,
  );
  t.deepEqual(
    without.leftOut.map((l) => l.item),
    ["SUPERUSER", "REPLICATION", "BYPASSRLS", "PASSWORD"],
  );
  t.regex(without.leftOut[0]!.reason, /only a superuser can give it/);
  const withVerifier = carriedAttributes("Fx Writer", full, true);
  t.regex(withVerifier.sql!, / PASSWORD 'SCRAM-SHA-256\$4096:a\$b:c' /);
  // The defaults are dropped silently: they are what CREATE ROLE gives.
  const plain = carriedAttributes(
    "r",
    "ALTER ROLE r WITH NOSUPERUSER INHERIT NOCREATEROLE NOCREATEDB NOLOGIN NOREPLICATION NOBYPASSRLS",
    false,
  );
  t.deepEqual(plain, { sql: "ALTER ROLE r WITH INHERIT NOCREATEROLE NOCREATEDB NOLOGIN", leftOut: [] });
});

test("reserved roles and memberships in them are never carried, and say why", (t) => {
  const script = [
    "CREATE ROLE app;",
    "ALTER ROLE app WITH NOSUPERUSER INHERIT NOCREATEROLE NOCREATEDB LOGIN NOREPLICATION NOBYPASSRLS;",
    "CREATE ROLE rds_superuser;",
    "ALTER ROLE rds_superuser WITH NOSUPERUSER INHERIT NOCREATEROLE NOCREATEDB NOLOGIN NOREPLICATION NOBYPASSRLS;",
    "GRANT rds_superuser TO app GRANTED BY rdsadmin;",
    "GRANT pg_read_all_stats TO app GRANTED BY postgres;",
    "ALTER ROLE app SET search_path TO 'app';",
  ].join("\n");
  const { statements, leftOut } = carriedStatements(parseRoleScript(script), false);
  t.deepEqual(
    statements.map((s) => s.sql),
    [
      "CREATE ROLE app",
      "ALTER ROLE app WITH INHERIT NOCREATEROLE NOCREATEDB LOGIN",
      "GRANT pg_read_all_stats TO app",
      "ALTER ROLE app SET search_path TO 'app'",
    ],
  );
  t.deepEqual(
    leftOut.map((l) => [l.role, l.item]),
    [
      ["rds_superuser", "role"],
      ["app", "membership in rds_superuser"],
    ],
  );
  t.true(isReservedRole("rdsadmin") && isReservedRole("pg_monitor") && !isReservedRole("eventchain_admin"));
});

test("a restore runs the schemas and their GRANTs first, then the rest in the dump's order; policies out without privileges", (t) => {
  const list = [
    ";",
    "; Archive created at 2026-12-07",
    "5; 2615 16385 SCHEMA - sales fx_owner",
    "210; 1259 16390 TABLE sales orders fx_owner",
    "3300; 0 16390 TABLE DATA sales orders fx_owner",
    "3400; 3256 16400 POLICY sales orders small_orders fx_owner",
    "3500; 0 0 ACL - SCHEMA sales fx_owner",
    "3501; 0 0 ACL sales TABLE orders fx_owner",
  ].join("\n");
  const kept = restoreLists(list, true);
  t.is(kept.first, "5; 2615 16385 SCHEMA - sales fx_owner\n3500; 0 0 ACL - SCHEMA sales fx_owner\n");
  t.is(
    kept.rest,
    [
      "210; 1259 16390 TABLE sales orders fx_owner",
      "3300; 0 16390 TABLE DATA sales orders fx_owner",
      "3400; 3256 16400 POLICY sales orders small_orders fx_owner",
      "3501; 0 0 ACL sales TABLE orders fx_owner",
    ].join("\n") + "\n",
  );
  t.deepEqual(kept.policies, []);
  const withoutPrivileges = restoreLists(list, false);
  t.deepEqual(withoutPrivileges.policies, ["sales orders small_orders"]);
  t.false(withoutPrivileges.rest.includes("POLICY"));
});

test("only a dump the database changed under is retried; roles are needed unless neither owners nor privileges are kept", (t) => {
  t.true(changedUnderDump('pg_dump: error: query failed: ERROR:  relation "public.churn_1" does not exist'));
  t.true(changedUnderDump("ERROR:  cache lookup failed for relation 16385"));
  t.false(changedUnderDump("permission denied for table secrets"));
  t.false(changedUnderDump('password authentication failed for user "eventchain_admin"'));
  t.true(needsRoles({}) && needsRoles({ ownership: false }) && needsRoles({ privileges: false }));
  t.false(needsRoles({ ownership: false, privileges: false }));
  t.is(derivedName("a".repeat(70), "restoring_0123abcd").length, 63);
});
