/**
 * The repository's compression, a trade between restore time (the RTO) and repository size: the
 * same running cluster backed up (pgBackRest full) into one repository per compress-type —
 * lz4, zst and none, each with its stanza's config otherwise unchanged — then restores of each,
 * interleaved (restore only: laying the files down is what compression changes; the WAL replay
 * after it is the same). Backups are one sample each (they are slow and expire nothing here).
 */
import { chown, mkdtemp, rm } from "node:fs/promises";
import { join } from "node:path";
import type { Case, CaseResult, RunOutput } from "./harness.ts";
import { timed } from "./harness.ts";
import { pgbackrest, processesFor, type PgBackRestConfig } from "../../runbooks/postgres/pgbackrest.ts";
import { serviceUserIds } from "../../runbooks/postgres/cluster.ts";

export const COMPRESSIONS = ["lz4", "zst", "none"] as const;
export type Compression = (typeof COMPRESSIONS)[number];

/** The repository of one compress-type, on the command line (the stanza's config unchanged). */
const repoArgs = (dir: string, c: Compression) => [`--repo1-path=${join(dir, `repo-${c}`)}`];

export interface CompressionBackup {
  compression: Compression;
  seconds: number;
  /** What the repository holds for the backup, and the cluster's size it backed up. */
  repoBytes: number;
  bytes: number;
}

/** A full backup of the running cluster into a repository of each compress-type. */
export async function compressionBackups(cfg: PgBackRestConfig, dir: string): Promise<CompressionBackup[]> {
  const out: CompressionBackup[] = [];
  for (const c of COMPRESSIONS) {
    const args = repoArgs(dir, c);
    await pgbackrest(cfg, ["stanza-create", ...args]);
    // The WAL is archived into the stanza's own repository: these backups are restored, never recovered.
    const t = await timed(() =>
      pgbackrest(cfg, ["backup", "--type=full", "--no-archive-check", `--compress-type=${c}`, ...args]),
    );
    const last = (await infoOf(cfg, args)).pop()!;
    out.push({ compression: c, seconds: t.seconds, repoBytes: last.repoSizeBytes, bytes: last.sizeBytes });
  }
  return out;
}

async function infoOf(cfg: PgBackRestConfig, args: string[]) {
  const parsed = JSON.parse(await pgbackrest(cfg, ["info", "--output=json", ...args])) as {
    backup: { info: { size: number; repository: { delta: number } } }[];
  }[];
  return (parsed[0]?.backup ?? []).map((b) => ({ sizeBytes: b.info.size, repoSizeBytes: b.info.repository.delta }));
}

/** Restores of each repository into a fresh directory (one process per core). */
export function compressionRestoreCases(cfg: PgBackRestConfig, dir: string): Case[] {
  return COMPRESSIONS.map((c) => {
    let target: string | undefined;
    return {
      id: `restore.${c}`,
      label: `pgBackRest restore, ${c}`,
      floor: "floor.untar",
      prepare: async () => {
        target = await mkdtemp(join(dir, `restore-${c}-`));
        const ids = await serviceUserIds("postgres");
        if (ids) await chown(target, ids.uid, ids.gid);
      },
      run: async (): Promise<RunOutput> => {
        const data = join(target!, "data");
        const t = await timed(() =>
          pgbackrest(cfg, [
            "restore",
            `--pg1-path=${data}`,
            `--process-max=${processesFor()}`,
            "--type=immediate",
            "--target-action=promote",
            ...repoArgs(dir, c),
          ]),
        );
        return { metrics: { restoreSeconds: t.seconds } };
      },
      cleanup: async () => {
        if (target) await rm(target, { recursive: true, force: true });
        target = undefined;
      },
    };
  });
}

/** Pure: the trade-off table's rows: each compress-type's backup and its restore's median. */
export function compressionRows(backups: CompressionBackup[], restores: CaseResult[]) {
  return backups.map((b) => {
    const r = restores.find((x) => x.id === `restore.${b.compression}`);
    return {
      compression: b.compression,
      backupSeconds: b.seconds,
      repoBytes: b.repoBytes,
      restoreSeconds: r && !r.error ? r.seconds : null,
    };
  });
}
