/**
 * The recovery, as an SRE runs it: `point-in-time-restore --engine pgbackrest` in its own process,
 * to the latest recoverable point after a crash (with the WAL stream when streaming is on), or to
 * just before the destructive statement's transaction. Resolves `ready` as soon as the runbook
 * has verified the recovered server is promoted and takes writes, so the drill verifies the data
 * while the runbook goes on to back the recovered cluster up.
 */
import type { PgBackRestConfig } from "../../runbooks/postgres/pgbackrest.ts";
import { newRunId } from "../../runbooks/lib/journal.ts";
import { restore as pitrRestore, verify as pitrVerify } from "../../runbooks/point-in-time-restore.ts";
import type { Log } from "./phase.ts";
import { runRunbookProcess, stepOutputsNow, type RunbookRun } from "./runbook-process.ts";

export interface Restored {
  dataDir: string;
  baseDir: string;
  socketDir: string;
  port: number;
}

export type RecoveryTarget = { kind: "latest" } | { kind: "before-xid"; xid: string; committedAt: string };

export interface Recovery {
  runId: string;
  /** The recovered server takes writes (the runbook's verify step passed), and where it runs. */
  ready: Promise<{ at: Date; restored: Restored }>;
  /** The runbook's whole run (its snapshot of the recovered cluster included). */
  done: Promise<RunbookRun>;
}

/** Pure: the runbook's arguments for a target. */
export function recoveryArgs(o: {
  outputsFile: string;
  cfg: PgBackRestConfig;
  targetRoot: string;
  incidentAt: Date;
  target: RecoveryTarget;
  walStreamDir?: string;
}): string[] {
  // --time picks the base backup; a commit time is cut to milliseconds upward, so it is not before the commit.
  const time =
    o.target.kind === "latest" ? "latest" : new Date(Math.ceil(Date.parse(o.target.committedAt) + 0.001)).toISOString();
  return [
    "--outputs",
    o.outputsFile,
    "--yes",
    "--engine",
    "pgbackrest",
    "--time",
    time,
    ...(o.target.kind === "before-xid" ? ["--before-xid", o.target.xid] : []),
    ...(o.walStreamDir ? ["--wal-stream-dir", o.walStreamDir] : []),
    "--incident-at",
    o.incidentAt.toISOString(),
    "--pgbackrest-config",
    o.cfg.configFile,
    "--stanza",
    o.cfg.stanza,
    "--target-root",
    o.targetRoot,
  ];
}

export function startRecovery(
  args: string[],
  o: { env: Record<string, string>; stateDir: string; log: Log; signal?: AbortSignal },
): Recovery {
  const runId = newRunId("point-in-time-restore");
  let resolveReady!: (r: { at: Date; restored: Restored }) => void;
  let rejectReady!: (e: Error) => void;
  const ready = new Promise<{ at: Date; restored: Restored }>((res, rej) => {
    resolveReady = res;
    rejectReady = rej;
  });
  ready.catch(() => {}); // awaited by the caller; a failed run also rejects it
  const done = runRunbookProcess("point-in-time-restore", args, {
    ...o,
    runId,
    onEvent: (e) => {
      if (e.event === "step_succeeded" && e.step === pitrVerify.id) {
        const restored = stepOutputsNow(o.stateDir, runId, pitrRestore) as Restored | undefined;
        if (restored) resolveReady({ at: new Date(), restored });
        else rejectReady(new Error("point-in-time-restore verified a cluster but its journal names none"));
      }
    },
  }).then((run) => {
    rejectReady(
      new Error(`point-in-time-restore exited ${run.exitCode} before the recovered server took writes: ${run.message}`),
    );
    return run;
  });
  return { runId, ready, done };
}
