import test from "ava";
import { createHash } from "node:crypto";
import fc from "fast-check";
import { olderThanRetention } from "../../runbooks/postgres/manifest.ts";
import { expectedS3Checksum, sameChecksum } from "../../runbooks/aws/s3-object.ts";
import {
  declaredForeignKeys,
  orphanQuery,
  PLAN_CHECKS,
  renderVerificationMarkdown,
  buildVerificationReport,
} from "../../runbooks/postgres/integrity.ts";
import { renderConfig, toPgTimestamp } from "../../runbooks/postgres/pgbackrest.ts";
import { EVENTCHAIN_PROFILE, parseProfileOption } from "../../runbooks/postgres/profiles.ts";
import { qualifyLegacy, splitQualified } from "../../runbooks/postgres/names.ts";
import { parseTocList } from "../../runbooks/postgres/toc.ts";
import { keepRoles, parseRoleScript, renderRoleScript } from "../../runbooks/postgres/roles.ts";
import { postgresFor } from "../helpers/postgres.ts";

const DAY = 86_400_000;

test("retention by age reports exactly the backups older than the objective, whatever their number", (t) => {
  fc.assert(
    fc.property(
      fc.array(fc.integer({ min: 0, max: 400 * DAY }), { maxLength: 80 }),
      fc.integer({ min: 1, max: 365 }),
      (ages, days) => {
        const now = new Date("2026-11-24T12:00:00Z");
        const backups = ages.map((age, i) => ({ id: i, lastModified: new Date(now.getTime() - age) }));
        const old = olderThanRetention(backups, days, now);
        return (
          old.every((b) => now.getTime() - b.lastModified.getTime() > days * DAY) &&
          backups.filter((b) => !old.includes(b)).every((b) => now.getTime() - b.lastModified.getTime() <= days * DAY)
        );
      },
    ),
  );
  // The plan's `head -n -30` kept 30 files; 31 daily backups within 30 days are all kept here.
  const now = new Date("2026-11-24T12:00:00Z");
  const daily = Array.from({ length: 31 }, (_, i) => ({ lastModified: new Date(now.getTime() - i * DAY + 1) }));
  t.deepEqual(olderThanRetention(daily, 30, now), []);
  t.throws(() => olderThanRetention(daily, 0, now), {
    message: "invalid retention 0 days: expected a positive number",
  });
});

test("the expected S3 checksum is the plain SHA-256 for one part and the composite with -N for several", (t) => {
  const parts = [Buffer.from("a"), Buffer.from("b")].map((b) => createHash("sha256").update(b).digest());
  t.is(expectedS3Checksum(parts.slice(0, 1), false), parts[0]!.toString("base64"));
  const composite = `${createHash("sha256").update(Buffer.concat(parts)).digest("base64")}-2`;
  t.is(expectedS3Checksum(parts, true), composite);
  t.true(sameChecksum(composite, composite));
  t.true(sameChecksum(composite.replace(/-2$/, ""), composite), "moto reports the composite without -N");
  t.false(sameChecksum(parts[0]!.toString("base64"), composite));
  t.false(sameChecksum(`${composite.replace(/-2$/, "")}-3`, composite));
});

test("the orphan anti-join counts orphans where NOT IN (subquery) finds none once the parent key column holds a NULL", async (t) => {
  const server = await postgresFor(t);
  await server.query(`CREATE TABLE events (id bigint); CREATE TABLE tickets (id bigint, event_id bigint);
    INSERT INTO events VALUES (1), (2), (NULL);
    INSERT INTO tickets VALUES (1, 1), (2, 2), (3, 99), (4, NULL);`);
  const check = PLAN_CHECKS.find((c) => c.child === "tickets")!;
  const [anti] = await server.query<{ orphans: string }>(orphanQuery(check));
  t.is(Number(anti!.orphans), 1, "ticket 3 points at a missing event; ticket 4 has no event (not an orphan)");
  const [notIn] = await server.query<{ n: string }>(
    "SELECT count(*) AS n FROM tickets WHERE event_id NOT IN (SELECT id FROM events)",
  );
  t.is(Number(notIn!.n), 0, "the plan's NOT IN misses it");

  // MATCH FULL: a key that is partly NULL is a violation; all NULL is not. Checked against what
  // PostgreSQL itself accepts: the rows are inserted with the constraint NOT VALID, then validated.
  await server.query(`CREATE TABLE seats (row_no int, seat_no int, PRIMARY KEY (row_no, seat_no));
    INSERT INTO seats VALUES (1, 1), (1, 2);
    CREATE TABLE holds (id int, row_no int, seat_no int);
    INSERT INTO holds VALUES (1, 1, 1), (2, NULL, NULL), (3, 1, NULL), (4, 9, 9);
    ALTER TABLE holds ADD CONSTRAINT holds_seat_fk FOREIGN KEY (row_no, seat_no) REFERENCES seats MATCH FULL NOT VALID;`);
  const catalog = await server.client();
  const [fk] = (await declaredForeignKeys(catalog)).filter((k) => k.name === "holds_seat_fk");
  await catalog.end();
  t.like(fk, { matchFull: true, validated: false, childOnly: true, parentOnly: true });
  const [full] = await server.query<{ orphans: string }>(orphanQuery(fk!));
  t.is(Number(full!.orphans), 2, "hold 3 (partly NULL) and hold 4 (no such seat)");
  await t.throwsAsync(server.query("ALTER TABLE holds VALIDATE CONSTRAINT holds_seat_fk"), {
    message: /violates foreign key constraint "holds_seat_fk"/,
  });
  await server.query("DELETE FROM holds WHERE id IN (3, 4); ALTER TABLE holds VALIDATE CONSTRAINT holds_seat_fk");
  const [none] = await server.query<{ orphans: string }>(orphanQuery(fk!));
  t.is(Number(none!.orphans), 0, "what PostgreSQL validates, the check passes");
});

test("the verification report renders a verdict and one row per check", (t) => {
  const r = buildVerificationReport({
    backupId: "20261124T120000Z",
    database: "scratch",
    startedAt: "a",
    finishedAt: "b",
    checks: [
      { name: "table users", kind: "table", ok: true, detail: "10 rows" },
      { name: "tickets.event_id → events.id", kind: "plan-check", ok: false, detail: "1 orphan row(s)" },
    ],
    unloggedTables: ["public.session_cache"],
    profile: { name: "eventchain", mode: "auto", applied: ["tickets.event_id → events.id"], notApplicable: [] },
  });
  t.false(r.ok);
  const md = renderVerificationMarkdown(r);
  t.regex(md, /^# Backup verification: FAILED/);
  t.regex(md, /\| tickets\.event_id → events\.id \| plan-check \| \*\*FAILED\*\* \| 1 orphan row\(s\) \|/);
  t.regex(md, /- UNLOGGED tables: public\.session_cache/);
  t.regex(
    md,
    /a physical restore \(point-in-time restore, a promoted replica, crash recovery\) brings them back empty/,
  );
  t.false(
    buildVerificationReport({
      backupId: null,
      database: "x",
      startedAt: "a",
      finishedAt: "b",
      checks: [],
      unloggedTables: [],
      profile: { name: null, mode: "none", applied: [], notApplicable: [] },
    }).ok,
    "no checks is not a pass",
  );
});

test("pgBackRest config and recovery target are rendered exactly", (t) => {
  const conf = renderConfig({
    dir: "/d",
    stanza: "eventchain",
    repo: { type: "posix", path: "/r" },
    pgPath: "/p",
    pgPort: 5433,
    pgSocket: "/s",
  });
  t.true(conf.includes("repo1-type=posix\nrepo1-path=/r\n"));
  t.true(conf.includes("[eventchain]\npg1-path=/p\npg1-port=5433\npg1-socket-path=/s\n"));
  t.false(
    /key-secret|repo1-s3-key=/.test(
      renderConfig({
        dir: "/d",
        stanza: "eventchain",
        repo: {
          type: "s3",
          bucket: "b",
          endpoint: "s3.us-east-1.amazonaws.com",
          region: "us-east-1",
          path: "/pgbackrest",
        },
        pgPath: "/p",
        pgPort: 1,
        pgSocket: "/s",
      }),
    ),
    "no static keys in the config",
  );
  t.throws(
    () =>
      renderConfig({
        dir: "/d",
        stanza: "Bad Stanza",
        repo: { type: "posix", path: "/r" },
        pgPath: "/p",
        pgPort: 1,
        pgSocket: "/s",
      }),
    { message: 'invalid stanza "Bad Stanza": expected lower-case letters, digits and hyphens, starting with a letter' },
  );
  t.is(toPgTimestamp(new Date("2026-01-15T14:30:00.123Z")), "2026-01-15 14:30:00.123+00");
});

test("a JSON profile is validated field by field, and the EventChain profile is the plan's", (t) => {
  const file = (doc: unknown) => () => JSON.stringify(doc);
  t.deepEqual(parseProfileOption("auto"), { mode: "auto", profile: EVENTCHAIN_PROFILE });
  t.deepEqual(parseProfileOption("none"), { mode: "none" });
  t.is(EVENTCHAIN_PROFILE.checks.length, 3);
  const shop = parseProfileOption(
    "shop.json",
    file({
      name: "shop",
      tables: [{ schema: "sales", table: "Orders" }],
      checks: [
        {
          name: "lines → orders",
          child: { schema: "sales", table: "lines" },
          childColumns: ["order_id"],
          parent: { schema: "sales", table: "Orders" },
          parentColumns: ["id"],
        },
      ],
    }),
  );
  t.is(shop.mode, "required");
  t.throws(
    () =>
      parseProfileOption(
        "bad.json",
        file({
          name: "x",
          checks: [
            {
              name: "c",
              child: { schema: "a", table: "b" },
              childColumns: ["x", "y"],
              parent: { schema: "a", table: "c" },
              parentColumns: ["id"],
            },
          ],
        }),
      ),
    { message: 'invalid --profile "bad.json": checks.0: childColumns and parentColumns must have the same length' },
  );
  t.throws(() => parseProfileOption("bad.json", () => "{"), {
    message: /^invalid --profile "bad.json": cannot read it as JSON/,
  });
});

test("quoted names split back into their parts, and v1 names gain their schema", (t) => {
  t.deepEqual(splitQualified('"Audit"."Event Log"'), ["Audit", "Event Log"]);
  t.deepEqual(splitQualified('public."Mixed""Case"'), ["public", 'Mixed"Case']);
  t.deepEqual(splitQualified("tickets"), ["tickets"]);
  t.is(splitQualified("a.b.c"), null);
  t.is(splitQualified('"open'), null);
  t.is(qualifyLegacy("tickets"), "public.tickets");
  t.is(qualifyLegacy('"MixedCase"'), 'public."MixedCase"');
  t.is(qualifyLegacy("sales.orders"), "sales.orders");
});

test("pg_restore --list is read for the tables and the rows a dump holds", (t) => {
  const toc = [
    ";",
    "; Archive created at 2026-12-01 09:00:00 UTC",
    "6; 2615 16385 SCHEMA - Audit postgres",
    "217; 1259 16386 TABLE Audit Event Log postgres",
    "218; 1259 16391 TABLE public p postgres",
    "219; 1259 16394 TABLE DATA-ish schema p1 postgres",
    "3219; 0 0 TABLE ATTACH public p1 postgres",
    "3364; 0 16386 TABLE DATA Audit Event Log postgres",
    "3400; 0 16420 BLOB - 16420 postgres",
  ].join("\n");
  t.deepEqual(parseTocList(toc), { tables: [16386, 16391, 16394], tableData: [16386], largeObjects: 1 });
});

test("the role script keeps the roles needed, their memberships, and drops what is not a role's", (t) => {
  const script = `\\restrict abc
SET standard_conforming_strings = on;
CREATE ROLE "Fx Writer";
ALTER ROLE "Fx Writer" WITH NOSUPERUSER INHERIT LOGIN PASSWORD 'SCRAM-SHA-256$4096:x;y';
COMMENT ON ROLE "Fx Writer" IS 'it''s; multi
line';
CREATE ROLE other;
ALTER ROLE other WITH NOLOGIN;
ALTER ROLE "Fx Writer" SET statement_timeout TO '30s';
ALTER ROLE "Fx Writer" IN DATABASE shop SET work_mem TO '4MB';
GRANT fx_reader TO "Fx Writer" GRANTED BY postgres;
GRANT other TO "Fx Writer" GRANTED BY postgres;
\\unrestrict abc
`;
  const kept = keepRoles(parseRoleScript(script), new Set(["Fx Writer", "fx_reader"]));
  t.deepEqual(
    kept.map((s) => s.kind),
    ["create", "attributes", "comment", "config", "membership"],
  );
  t.is(kept[2]!.sql, "COMMENT ON ROLE \"Fx Writer\" IS 'it''s; multi\nline'");
  t.is(kept[4]!.sql, 'GRANT fx_reader TO "Fx Writer"', "the grantor is the restoring user's");
  t.deepEqual(parseRoleScript(renderRoleScript(kept)), kept, "the rendered script reads back the same");
});
