/**
 * Point-in-time recovery, our whole path (runbooks/postgres/pgbackrest.ts): pgBackRest restore
 * of the base backup into a new data directory, WAL replay of a fixed amount of write traffic up
 * to a target time T, promotion and a first write — "ready for writes" — then verification (rows
 * committed before T present, rows after T absent, integrity checks two at a time) — "verified".
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

/** One repetition of our PITR path from `setup` into a fresh directory under `workDir`. */
export function pitrCase(d: Dataset, setup: () => PitrSetup, o: { id: string; label: string; workDir: string }): Case {
  let recovered: LocalPostgres | undefined;
  let baseDir: string | undefined;
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
      const restore = await timed(() => restoreToTime(s.cfg, { targetDataDir: dataDir, time: s.target, env: s.env }));
      const replay = await timed(async () => {
        const password = d.server.connection().password;
        // archive_mode off: the recovered copy must not push its new timeline into the source's repository.
        recovered = await adoptPostgres({
          binDir: d.server.binDir,
          baseDir: baseDir!,
          dataDir,
          password,
          settings: { archive_mode: "off" },
        });
        await recovered.start();
        await waitPromoted(recovered);
      });
      // Ready for writes: the application's first write is committed.
      const write = await timed(() =>
        recovered!.query(
          "INSERT INTO tickets (event_id, user_id, seat, price, status, barcode) VALUES (1, 1, 'W-1', 1, 'sold', 'pitr-first-write')",
          [],
          DB_NAME,
        ),
      );
      // Verified: the witnesses, then verify-backup's integrity checks, two at a time as it runs them.
      const verify = await timed(async () => {
        const client = await recovered!.client(DB_NAME);
        try {
          const { rows } = await client.query<{ before: string; after: string }>(
            "SELECT count(*) FILTER (WHERE barcode = $1) AS before, count(*) FILTER (WHERE barcode = $2) AS after FROM tickets WHERE barcode IN ($1, $2)",
            [s.witnesses.before, s.witnesses.after],
          );
          if (Number(rows[0]!.before) !== 1 || Number(rows[0]!.after) !== 0) {
            throw new Error(
              `recovery did not land at T: ${rows[0]!.before} row(s) committed before T (want 1), ${rows[0]!.after} after T (want 0)`,
            );
          }
          const failed = (
            await checkIntegrity(client, {}, { concurrency: 2, connect: () => recovered!.client(DB_NAME) })
          ).filter((c) => !c.ok);
          if (failed.length > 0)
            throw new Error(
              `recovered database fails integrity: ${failed.map((c) => `${c.name}: ${c.detail}`).join("; ")}`,
            );
        } finally {
          await client.end();
        }
      });
      const redoSeconds = redoSecondsFromLog(await readFile(recovered!.logFile, "utf8").catch(() => ""));
      const ready = restore.seconds + replay.seconds + write.seconds;
      return {
        bytes: s.backupBytes,
        phases: {
          "pgbackrest restore": restore.seconds,
          "start + WAL replay + promote": replay.seconds,
          "first write": write.seconds,
          verify: verify.seconds,
        },
        metrics: {
          readyForWritesSeconds: ready,
          verifiedSeconds: ready + verify.seconds,
          walBytes: s.walBytes,
          // WAL per second of PostgreSQL's redo when it logged it; else of start + replay + promote.
          walMBps: s.walBytes / 1e6 / (redoSeconds ?? replay.seconds),
          ...(redoSeconds !== undefined ? { redoSeconds } : {}),
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
