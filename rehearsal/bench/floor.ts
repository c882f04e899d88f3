/**
 * The floor: what copying the bytes costs on this machine, the limit every path is measured
 * against. `tar` of the stopped cluster's data directory, its untar, and `pg_basebackup` of the
 * running cluster. Page cache warm, no fsync on either side (the floor is the copy itself).
 * MB/s counts the bytes each one actually wrote (tar file, base backup with its streamed WAL).
 */
import { mkdir, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import { $ } from "zx";
import type { Case } from "./harness.ts";
import type { Dataset } from "./dataset.ts";
import { directoryBytes } from "./dataset.ts";

export const FLOOR_TAR = "floor.tar";
export const FLOOR_UNTAR = "floor.untar";
export const FLOOR_BASEBACKUP = "floor.pg_basebackup";

async function ensureStopped(d: Dataset) {
  if (await d.server.running()) await d.server.stop("fast");
}
async function ensureRunning(d: Dataset) {
  if (!(await d.server.running())) await d.server.start();
}

/** The three floor cases; `workDir` is a scratch directory the caller removes. */
export function floorCases(d: Dataset, workDir: string): Case[] {
  const tarFile = join(workDir, "floor.tar");
  const untarDir = join(workDir, "floor-untar");
  const baseDir = join(workDir, "floor-basebackup");
  return [
    {
      id: FLOOR_TAR,
      label: "tar of the stopped data directory",
      prepare: async () => {
        await ensureStopped(d);
        await rm(tarFile, { force: true });
      },
      run: async () => {
        await $({ quiet: true })`tar -cf ${tarFile} -C ${d.server.dataDir} .`;
        return { bytes: (await stat(tarFile)).size };
      },
    },
    {
      id: FLOOR_UNTAR,
      label: "untar into an empty directory",
      prepare: async () => {
        await rm(untarDir, { recursive: true, force: true });
        await mkdir(untarDir);
      },
      run: async () => {
        await $({ quiet: true })`tar -xf ${tarFile} -C ${untarDir}`;
        return { bytes: (await stat(tarFile)).size };
      },
      cleanup: () => rm(untarDir, { recursive: true, force: true }),
    },
    {
      id: FLOOR_BASEBACKUP,
      label: "pg_basebackup -Ft -X stream (running cluster)",
      prepare: async () => {
        await ensureRunning(d);
        await rm(baseDir, { recursive: true, force: true });
      },
      run: async () => {
        await $({
          quiet: true,
          env: { ...process.env, ...d.server.env() },
        })`${join(d.server.binDir, "pg_basebackup")} -D ${baseDir} -Ft -X stream -c fast --no-sync`;
        return { bytes: await directoryBytes(baseDir) };
      },
      cleanup: () => rm(baseDir, { recursive: true, force: true }),
    },
  ];
}

/** Leaves the server running (other suites need it) and removes the floor's tar file. */
export async function floorTeardown(d: Dataset, workDir: string): Promise<void> {
  await rm(join(workDir, "floor.tar"), { force: true });
  await ensureRunning(d);
}
