/**
 * The recovery, as an SRE runs it: `point-in-time-restore --engine pgbackrest` in its own process,
 * to the latest recoverable point after a crash (with the WAL stream when streaming is on), or to
 * just before the destructive statement's transaction. The runbook holds the recovered server
 * read-only at its stop, then verifies it side by side with its promotion; the drill follows its
 * steps as they finish: `held` (replayed to the stop, read-only: the drill reads the writers' rows
 * there), `verified` (the runbook's checks passed and the server was promoted), `done` (the whole
 * run, its backup of the recovered cluster included).
 */
import type { PgBackRestConfig } from "../../runbooks/postgres/pgbackrest.ts";
import { newRunId } from "../../runbooks/lib/journal.ts";
import {
  restore as pitrRestore,
  verify as pitrVerify,
  waitReady as pitrWaitReady,
} from "../../runbooks/point-in-time-restore.ts";
import type { Log } from "./phase.ts";
import { runRunbookProcess, stepOutputsNow, type RunbookRun } from "./runbook-process.ts";

export interface Restored {
  dataDir: string;
  baseDir: string;
  socketDir: string;
  port: number;
}

export type RecoveryTarget = { kind: "latest" } | { kind: "before-xid"; xid: string; committedAt: string };

/** What the engine's wait step reports once the server holds at its stop. */
export interface Held {
  at: Date;
  restored: Restored;
  /** PostgreSQL's redo up to the stop (log and replay position), when it could be read. */
  redo: { seconds: number; walBytes: number } | null;
}

/** What the engine's verify step reports: the checks on the paused server's snapshot, and the promotion. */
export interface Verified {
  at: Date;
  checks: number;
  verificationMarkdown: string | null;
  promotedAt: string | null;
  snapshotAt: string | null;
}

export interface Recovery {
  runId: string;
  held: Promise<Held>;
  verified: Promise<Verified>;
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

/** A promise settled from outside, that nobody has to await (a failed run rejects it). */
function deferred<T>() {
  let resolve!: (v: T) => void;
  let reject!: (e: Error) => void;
  const promise = new Promise<T>((res, rej) => ((resolve = res), (reject = rej)));
  promise.catch(() => {});
  return { promise, resolve, reject };
}

export function startRecovery(
  args: string[],
  o: { env: Record<string, string>; stateDir: string; log: Log; signal?: AbortSignal },
): Recovery {
  const runId = newRunId("point-in-time-restore");
  const held = deferred<Held>();
  const verified = deferred<Verified>();
  const outputs = (step: typeof pitrRestore | typeof pitrWaitReady | typeof pitrVerify) =>
    stepOutputsNow(o.stateDir, runId, step) as Record<string, unknown> | undefined;
  const done = runRunbookProcess("point-in-time-restore", args, {
    ...o,
    runId,
    onEvent: (e) => {
      if (e.event !== "step_succeeded") return;
      const at = new Date();
      if (e.step === pitrWaitReady.id) {
        const restored = outputs(pitrRestore) as Restored | undefined;
        const waited = outputs(pitrWaitReady);
        if (!restored) held.reject(new Error("point-in-time-restore holds a cluster but its journal names none"));
        else held.resolve({ at, restored, redo: (waited?.redo as Held["redo"]) ?? null });
      } else if (e.step === pitrVerify.id) {
        const v = outputs(pitrVerify) ?? {};
        verified.resolve({
          at,
          checks: Number(v.checks ?? 0),
          verificationMarkdown: typeof v.verificationMarkdown === "string" ? v.verificationMarkdown : null,
          promotedAt: typeof v.promotedAt === "string" ? v.promotedAt : null,
          snapshotAt: typeof v.snapshotAt === "string" ? v.snapshotAt : null,
        });
      }
    },
  }).then((run) => {
    const e = new Error(`point-in-time-restore exited ${run.exitCode} before it verified the recovery: ${run.message}`);
    held.reject(e);
    verified.reject(e);
    return run;
  });
  return { runId, held: held.promise, verified: verified.promise, done };
}
