/**
 * The bench's seeded EventChain database: a throwaway PostgreSQL (rehearsal/stand-ins/postgres.ts)
 * filled by the project's own seeder (rehearsal/stand-ins/eventchain-schema.ts) to about the asked
 * size on disk. Nothing here seeds or starts servers by itself.
 */
import { join } from "node:path";
import { $ } from "zx";
import { type LocalPostgres } from "../../runbooks/postgres/cluster.ts";
import { startPostgres, createDatabase } from "../stand-ins/postgres.ts";
import { createSchema, seed } from "../stand-ins/eventchain-schema.ts";
import { type EventChainTable } from "../../runbooks/postgres/eventchain-tables.ts";
import { timed } from "./harness.ts";

export const DB_NAME = "eventchain";

/**
 * Database bytes (pg_database_size) per seeder scale unit, measured here: scale 80 gave a
 * 425 MiB database (the seeder's "80 ≈ 1 GiB" counts the WAL the seeding leaves behind).
 */
export const BYTES_PER_SCALE = (425.4 * 1024 ** 2) / 80;

/** The seeder scale that yields about `sizeBytes` on disk (never below the seeder's minimum). */
export function scaleForSize(sizeBytes: number): number {
  return Math.max(0.5, Math.round((sizeBytes / BYTES_PER_SCALE) * 100) / 100);
}

export interface Dataset {
  server: LocalPostgres;
  scale: number;
  rows: Record<EventChainTable, number>;
  /** pg_database_size of the seeded database. */
  dbBytes: number;
  /** Bytes of the whole data directory (what tar copies). */
  dataDirBytes: number;
  /** Bytes of pg_wal inside it. */
  walBytes: number;
  seedSeconds: number;
}

/** `du -sb` of a directory. */
export async function directoryBytes(dir: string): Promise<number> {
  const r = await $({ quiet: true })`du -sb ${dir}`;
  return Number(r.stdout.split(/\s/)[0]);
}

/**
 * Seeding leaves about twice the database in pg_wal (recycled segments kept for max_wal_size).
 * A cluster in service does not carry that, and tar would copy it: lower max_wal_size and
 * checkpoint so PostgreSQL removes the surplus segments itself.
 */
async function trimWal(client: { query: (sql: string) => Promise<unknown> }): Promise<void> {
  await client.query("ALTER SYSTEM SET max_wal_size = '48MB'");
  await client.query("ALTER SYSTEM SET min_wal_size = '32MB'");
  await client.query("SELECT pg_reload_conf()");
  for (let i = 0; i < 2; i++) {
    await client.query("SELECT pg_switch_wal()");
    await client.query("CHECKPOINT");
  }
  // Back to PostgreSQL's defaults for what follows (the removed segments stay removed).
  await client.query("ALTER SYSTEM SET max_wal_size = '1GB'");
  await client.query("ALTER SYSTEM SET min_wal_size = '80MB'");
  await client.query("SELECT pg_reload_conf()");
}

/**
 * Starts a server with the settings every suite needs (WAL for base backups and PITR) and seeds
 * it. The caller destroys `server`.
 */
export async function createDataset(
  sizeBytes: number,
  settings: Record<string, string | number> = {},
): Promise<Dataset> {
  const server = await startPostgres({
    prefix: "eventchain-bench-",
    settings: {
      wal_level: "replica",
      max_wal_senders: 4,
      max_wal_size: "4GB",
      checkpoint_timeout: "30min",
      shared_buffers: "256MB",
      maintenance_work_mem: "256MB",
      ...settings,
    },
  });
  try {
    await createDatabase(server, DB_NAME);
    const scale = scaleForSize(sizeBytes);
    const client = await server.client(DB_NAME);
    let rows: Record<EventChainTable, number>;
    let seedSeconds: number;
    try {
      await createSchema(client);
      ({ value: rows, seconds: seedSeconds } = await timed(() => seed(client, scale)));
      await client.query("VACUUM (ANALYZE)");
      await trimWal(client);
    } finally {
      await client.end();
    }
    const [{ size }] = (await server.query<{ size: string }>("SELECT pg_database_size($1) AS size", [DB_NAME])) as [
      { size: string },
    ];
    return {
      server,
      scale,
      rows,
      dbBytes: Number(size),
      dataDirBytes: await directoryBytes(server.dataDir),
      walBytes: await directoryBytes(join(server.dataDir, "pg_wal")),
      seedSeconds,
    };
  } catch (error) {
    await server.destroy();
    throw error;
  }
}
