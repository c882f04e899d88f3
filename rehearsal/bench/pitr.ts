/**
 * Point-in-time recovery, our whole path (runbooks/postgres/pgbackrest.ts): pgBackRest restore
 * of the base backup into a new data directory, WAL replay of a fixed amount of write traffic up
 * to a target time T, promotion and a first write — "ready for writes" — and verification (rows
 * committed before T present, rows after T absent, integrity checks two at a time) — "verified";
 * as the path was before (`before`) and as it is now (`after`, see {@link PitrVariant}).
 *
 * Setup, untimed and done once per repository: archiving on, a full base backup, then W bytes
 * of ticket sales (batched inserts into tickets and payments, as the application writes), a
 * witness row, T, a witness row after T, and the WAL archived. Every repetition restores the
 * same backup to the same T into a fresh directory, so every repetition replays the same WAL.
 */
import { chown, mkdtemp, readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import type pg from "pg";
import type { Case, RunOutput } from "./harness.ts";
import { timed } from "./harness.ts";
import type { Dataset } from "./dataset.ts";
import { DB_NAME } from "./dataset.ts";
import { adoptPostgres, serviceUserIds, type LocalPostgres } from "../../runbooks/postgres/cluster.ts";
import {
  baseBackup,
  enableArchiving,
  pgbackrest,
  restoreToTime,
  type PgBackRestConfig,
  type RepoSpec,
} from "../../runbooks/postgres/pgbackrest.ts";
import { checkIntegrity } from "../../runbooks/postgres/integrity.ts";
import { pausedRedo, recoveryState, verifyWhilePromoting } from "../../runbooks/postgres/paused-recovery.ts";

export interface PitrSetup {
  cfg: PgBackRestConfig;
  env: Record<string, string>;
  target: Date;
  /** WAL bytes between the end of the base backup and T (what recovery replays, at least). */
  walBytes: number;
  backupSeconds: number;
  backupBytes: number;
  witnesses: { before: string; after: string };
}

/** Barcodes of the witness tickets (unique per setup). */
const witness = (tag: string, when: "before" | "after") => `pitr-${tag}-${when}`;

/** Sells tickets in batches until the server has written at least `walBytes` of WAL. */
export async function writeTraffic(client: pg.Client, walBytes: number): Promise<number> {
  const lsn = async () => (await client.query<{ l: string }>("SELECT pg_current_wal_lsn()::text AS l")).rows[0]!.l;
  const start = await lsn();
  const written = async () =>
    Number(
      (await client.query<{ d: string }>("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), $1)::bigint AS d", [start]))
        .rows[0]!.d,
    );
  while ((await written()) < walBytes) {
    await client.query(`
      WITH e AS (SELECT max(id) AS m FROM events), u AS (SELECT max(id) AS m FROM users),
           t AS (INSERT INTO tickets (event_id, user_id, seat, price, status, barcode)
                 SELECT 1 + (i % e.m), 1 + ((i * 7) % u.m), 'B-' || i, round((10 + random() * 490)::numeric, 2), 'sold',
                        md5(random()::text) || substr(md5(random()::text), 1, 8)
                 FROM generate_series(1, 5000) AS i, e, u
                 RETURNING id, user_id, price)
      INSERT INTO payments (user_id, ticket_id, amount, currency, provider_ref, status)
      SELECT user_id, id, price, 'USD', 'pi_' || md5(random()::text), 'captured' FROM t`);
  }
  return written();
}

/** Waits until the server's clock is past `t` (polling, a few ms apart). */
async function waitUntilServerPasses(client: pg.Client, t: Date): Promise<void> {
  for (;;) {
    const { rows } = await client.query<{ ms: string }>(
      "SELECT extract(epoch FROM ($1::timestamptz - clock_timestamp())) * 1000 AS ms",
      [t],
    );
    const ms = Number(rows[0]!.ms);
    if (ms < 0) return;
    await new Promise((r) => setTimeout(r, Math.min(Math.ceil(ms) + 1, 1000)));
  }
}

async function insertWitness(client: pg.Client, barcode: string): Promise<void> {
  await client.query(
    "INSERT INTO tickets (event_id, user_id, seat, price, status, barcode) VALUES (1, 1, 'W-0', 1, 'sold', $1)",
    [barcode],
  );
}

/** Turns archiving on into `repo`, takes a full backup and writes the traffic; see the module doc. */
export async function preparePitr(
  d: Dataset,
  o: { dir: string; stanza: string; repo: RepoSpec; walBytes: number; env?: Record<string, string> },
): Promise<PitrSetup> {
  const env = o.env ?? {};
  const cfg = await enableArchiving(d.server, { dir: o.dir, stanza: o.stanza, repo: o.repo, env });
  const backup = await timed(() => baseBackup(cfg, "full", env));
  const client = await d.server.client(DB_NAME);
  try {
    const witnesses = { before: witness(o.stanza, "before"), after: witness(o.stanza, "after") };
    const stopLsn = backup.value.lsnStop;
    await writeTraffic(client, o.walBytes);
    // pgBackRest reports the backup's stop in whole seconds (C's wrapper rounds it up): T must
    // lie after it, or no backup set qualifies. Wait out the remainder, measured, not fixed.
    await waitUntilServerPasses(client, new Date(backup.value.stoppedAt));
    await insertWitness(client, witnesses.before);
    // T is a JS Date (milliseconds); the witness committed at microsecond precision. Round T up
    // to the next millisecond, and let the server's clock pass T before the row after T.
    const { rows } = await client.query<{ t: string; d: string }>(
      "SELECT (extract(epoch FROM clock_timestamp()) * 1000)::numeric AS t, pg_wal_lsn_diff(pg_current_wal_lsn(), $1)::bigint AS d",
      [stopLsn],
    );
    const target = new Date(Math.floor(Number(rows[0]!.t)) + 1);
    await waitUntilServerPasses(client, target);
    await insertWitness(client, witnesses.after);
    // `check` switches WAL and waits until the segment holding the witnesses is archived.
    await pgbackrest(cfg, ["check"], env);
    return {
      cfg,
      env,
      target,
      walBytes: Number(rows[0]!.d),
      backupSeconds: backup.seconds,
      backupBytes: backup.value.sizeBytes,
      witnesses,
    };
  } finally {
    await client.end();
  }
}

/**
 * PostgreSQL's own account of the replay, from the recovered server's log: "redo done at …
 * elapsed: N s" (PG ≥ 15) — the time the startup process spent fetching and replaying WAL.
 */
export function redoSecondsFromLog(log: string): number | undefined {
  const m = /redo done at [^\n]*elapsed: ([\d.]+) s/.exec(log);
  return m ? Number(m[1]) : undefined;
}

/** Polls (no fixed sleep) until the recovered server has left recovery and accepts writes. */
async function waitPromoted(server: LocalPostgres, timeoutMs = 600_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (let delay = 5; ; delay = Math.min(delay * 2, 100)) {
    const [row] = await server.query<{ r: boolean }>("SELECT pg_is_in_recovery() AS r");
    if (row && !row.r) return;
    if (Date.now() > deadline) throw new Error(`recovered server still in recovery after ${timeoutMs / 1000} s`);
    await new Promise((r) => setTimeout(r, delay));
  }
}

/** Polls until the recovered server holds read-only at its stop; returns its replay position. */
async function waitHeld(server: LocalPostgres, timeoutMs = 600_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (let delay = 5; ; delay = Math.min(delay * 2, 50)) {
    const c = await server.client().catch(() => null);
    if (c) {
      try {
        const s = await recoveryState(c);
        if (s.state === "paused") return s.replayLsn!;
        if (s.state === "promoted") throw new Error("the recovered server promoted instead of holding at its stop");
      } finally {
        await c.end();
      }
    }
    if (Date.now() > deadline) throw new Error(`recovered server not held at its stop after ${timeoutMs / 1000} s`);
    await new Promise((r) => setTimeout(r, delay));
  }
}

/** Rows committed before T present, rows after T absent (the witnesses). */
async function checkWitnesses(client: pg.Client, w: PitrSetup["witnesses"]): Promise<void> {
  const { rows } = await client.query<{ before: string; after: string }>(
    "SELECT count(*) FILTER (WHERE barcode = $1) AS before, count(*) FILTER (WHERE barcode = $2) AS after FROM tickets WHERE barcode IN ($1, $2)",
    [w.before, w.after],
  );
  if (Number(rows[0]!.before) !== 1 || Number(rows[0]!.after) !== 0)
    throw new Error(
      `recovery did not land at T: ${rows[0]!.before} row(s) committed before T (want 1), ${rows[0]!.after} after T (want 0)`,
    );
}

const FIRST_WRITE =
  "INSERT INTO tickets (event_id, user_id, seat, price, status, barcode) VALUES (1, 1, 'W-1', 1, 'sold', 'pitr-first-write')";

/**
 * How a repetition recovers. `before`: the path as it was — 2 restore processes, one archive-get
 * per segment, PostgreSQL promotes at T by itself (an immediate end-of-recovery checkpoint
 * first), then the checks on the promoted server. `after`: one restore process per core, WAL
 * fetched ahead of replay, held read-only at T, the checks on that snapshot side by side with
 * `pg_promote()` and the first write.
 */
export type PitrVariant = "before" | "after";

/** One repetition of our PITR path from `setup` into a fresh directory under `workDir`. */
export function pitrCase(
  d: Dataset,
  setup: () => PitrSetup,
  o: { id: string; label: string; workDir: string; variant?: PitrVariant },
): Case {
  let recovered: LocalPostgres | undefined;
  let baseDir: string | undefined;
  const variant = o.variant ?? "after";
  return {
    id: o.id,
    label: o.label,
    floor: "floor.untar",
    prepare: async () => {
      baseDir = await mkdtemp(join(o.workDir, "pitr-"));
      const ids = await serviceUserIds("postgres");
      if (ids) await chown(baseDir, ids.uid, ids.gid);
    },
    run: async (): Promise<RunOutput> => {
      const s = setup();
      const dataDir = join(baseDir!, "data");
      const restore = await timed(() =>
        restoreToTime(s.cfg, {
          targetDataDir: dataDir,
          time: s.target,
          env: s.env,
          ...(variant === "before" ? { action: "promote", fetchAhead: false, processes: 2 } : {}),
        }),
      );
      // archive_mode off: the recovered copy must not push its new timeline into the source's repository.
      recovered = await adoptPostgres({
        binDir: d.server.binDir,
        baseDir: baseDir!,
        dataDir,
        password: d.server.connection().password,
        settings: { archive_mode: "off" },
      });
      const server = recovered;
      const run = variant === "before" ? await promotedThenVerified(server, s) : await heldThenVerified(server, s);
      const ready = restore.seconds + run.readySeconds;
      const verified = restore.seconds + run.verifiedSeconds;
      return {
        bytes: s.backupBytes,
        phases: {
          "pgbackrest restore": restore.seconds,
          "start + WAL replay to T": run.replaySeconds,
          "promote + first write": run.readySeconds - run.replaySeconds,
          "verification beyond ready for writes": Math.max(0, verified - ready),
        },
        metrics: {
          readyForWritesSeconds: ready,
          verifiedSeconds: verified,
          walBytes: s.walBytes,
          verifySeconds: run.verifySeconds,
          // WAL per second of PostgreSQL's redo when it logged it; else of start + replay.
          walMBps: s.walBytes / 1e6 / (run.redoSeconds ?? run.replaySeconds),
          ...(run.redoSeconds !== undefined ? { redoSeconds: run.redoSeconds } : {}),
        },
      };
    },
    cleanup: async () => {
      if (recovered) await recovered.destroy();
      else if (baseDir) await rm(baseDir, { recursive: true, force: true });
      recovered = undefined;
      baseDir = undefined;
    },
  };
}

interface Timings {
  /** From the server's start: at T (held or promoted), ready for writes, verified. */
  replaySeconds: number;
  readySeconds: number;
  verifiedSeconds: number;
  /** The checks' own duration. */
  verifySeconds: number;
  redoSeconds: number | undefined;
}

/** The path before: promoted at T, then the first write, then the checks. */
async function promotedThenVerified(server: LocalPostgres, s: PitrSetup): Promise<Timings> {
  const t0 = performance.now();
  const since = () => (performance.now() - t0) / 1000;
  await server.start();
  await waitPromoted(server);
  const replaySeconds = since();
  await server.query(FIRST_WRITE, [], DB_NAME);
  const readySeconds = since();
  const client = await server.client(DB_NAME);
  try {
    await checkWitnesses(client, s.witnesses);
    const failed = (await checkIntegrity(client, {}, { concurrency: 2, connect: () => server.client(DB_NAME) })).filter(
      (c) => !c.ok,
    );
    if (failed.length)
      throw new Error(`recovered database fails integrity: ${failed.map((c) => `${c.name}: ${c.detail}`).join("; ")}`);
  } finally {
    await client.end();
  }
  const verifiedSeconds = since();
  return {
    replaySeconds,
    readySeconds,
    verifiedSeconds,
    verifySeconds: verifiedSeconds - readySeconds,
    redoSeconds: redoSecondsFromLog(await readFile(server.logFile, "utf8").catch(() => "")),
  };
}

/** The path after: held read-only at T, verified on that snapshot side by side with promotion and the first write. */
async function heldThenVerified(server: LocalPostgres, s: PitrSetup): Promise<Timings> {
  const t0 = performance.now();
  const since = () => (performance.now() - t0) / 1000;
  await server.start();
  const lsn = await waitHeld(server);
  const replaySeconds = since();
  const heldAt = new Date();
  let readySeconds = 0;
  const witness = await server.client(DB_NAME);
  try {
    await witness.query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
    await witness.query("SELECT 1");
    const witnesses = checkWitnesses(witness, s.witnesses);
    witnesses.catch(() => {});
    const v = await verifyWhilePromoting({
      connect: () => server.client(DB_NAME),
      concurrency: 2,
      promoteTimeoutSeconds: 600,
      afterPromotion: async (c) => {
        await c.query(FIRST_WRITE);
        readySeconds = since();
      },
    });
    await witnesses;
    const failed = v.integrity.checks.filter((c) => !c.ok);
    if (failed.length)
      throw new Error(`recovered database fails integrity: ${failed.map((c) => `${c.name}: ${c.detail}`).join("; ")}`);
    const verifiedSeconds = since();
    return {
      replaySeconds,
      readySeconds,
      verifiedSeconds,
      verifySeconds: (Date.parse(v.at.checked) - Date.parse(v.at.snapshot)) / 1000,
      redoSeconds: pausedRedo(await readFile(server.logFile, "utf8").catch(() => ""), { lsn, at: heldAt })?.seconds,
    };
  } finally {
    await witness.end();
  }
}
