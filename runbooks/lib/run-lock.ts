/**
 * One run at a time: the run lock of a runbook on a stack, kept in the shared store. Runbooks
 * that act on the same things declare the same lock scope (`Runbook.lockScope`): they then share
 * one lock on the pair of stacks (the stack and its peer), so a run of one refuses a run of any
 * other while it holds it, naming the holder's runbook.
 *
 * - A run creates the lock (`create`: only if absent) or replaces a released one (`replace`: only
 *   if unchanged since read); a second run meets a held lock and is refused, naming the holder's
 *   run id, host, process and start time.
 * - The holder writes a heartbeat every `HEARTBEAT_MS` (a fifth of the silence that allows a
 *   take-over: four heartbeats may be lost before anyone may take over, and no more versions of
 *   the lock are written than that needs; a heartbeat asked for sooner after the last write is
 *   skipped). A holder silent for longer than
 *   `SILENT_AFTER_MS` may be taken over, but only with `--take-over` (logged, and recorded in
 *   the lock). A lock held by the same run on the same host whose process is gone (a killed
 *   process being resumed) is continued without it.
 * - Every write is conditional on the lock's etag, so a holder that was taken over finds out at
 *   its next heartbeat (`onLost`) and stops.
 */
import { hostname, userInfo } from "node:os";
import { BadInputError } from "./errors.ts";
import type { RunStatus } from "./journal.ts";
import { PreconditionFailedError, type ReliableStore } from "./run-store.ts";
import type { Logger } from "./types.ts";

/** A holder silent for longer than this may be taken over with `--take-over`. */
export const SILENT_AFTER_MS = 5 * 60_000;
/** How often a running run proves it is alive: five heartbeats per silence window, each a new version of the lock. */
export const HEARTBEAT_MS = SILENT_AFTER_MS / 5;

export interface LockRecord {
  version: 1;
  /** The holder's runbook and the stack it was run on. */
  runbook: string;
  stack: string;
  /** The lock scope the holder declared (scoped locks only). */
  scope?: string;
  runId: string;
  host: string;
  pid: number;
  user: string | null;
  /** When the holding run started (its journal's startedAt). */
  startedAt: string;
  /** The holder's last sign of life. */
  heartbeatAt: string;
  state: "held" | "released";
  /** How the run ended (released locks). */
  status?: RunStatus;
  /** Whether `--resume` can continue it (released locks; a refusal before any change cannot). */
  resumable?: boolean;
  /** Set when this holder took the lock over from a silent one. */
  takenOverFrom?: { runId: string; host: string; pid: number; heartbeatAt: string };
}

/** The holder's process was taken over by another machine: this one must stop. */
export class LockLostError extends Error {
  override name = "LockLostError";
}

/** A lock shared by every runbook declaring scope `name`, on the pair of stacks `stacks`. */
export interface LockScope {
  name: string;
  /** The stack and its peer (in any order). */
  stacks: readonly string[];
}

/** Who a run excludes: runs of its runbook on its stack, or the runs of every runbook of its scope on the stack pair. */
export interface LockTarget {
  runbook: string;
  stack: string;
  scope?: LockScope;
}

const stackPair = (scope: LockScope) => [...new Set(scope.stacks)].sort().join("+");

/** Where the lock is kept in the store: `<runbook>/<stack>/lock.json`, or `scopes/<scope>/<stack>+<peer>/lock.json`. */
export const lockKey = (t: LockTarget) =>
  t.scope ? `scopes/${t.scope.name}/${stackPair(t.scope)}/lock.json` : `${t.runbook}/${t.stack}/lock.json`;

/** The lock, for messages: `region-failover on stack prod`, or `the "traffic" scope on stacks dr+prod`. */
const lockName = (t: LockTarget) =>
  t.scope ? `the "${t.scope.name}" scope on stacks ${stackPair(t.scope)}` : `${t.runbook} on stack ${t.stack}`;

export interface Me {
  host: string;
  pid: number;
  user: string | null;
  /** Whether a process of this host is still alive (default: `process.kill(pid, 0)`). */
  alive(pid: number): boolean;
}

export function thisProcess(): Me {
  let user: string | null = null;
  try {
    user = userInfo().username;
  } catch {
    user = null;
  }
  return {
    host: hostname(),
    pid: process.pid,
    user,
    alive(pid) {
      try {
        process.kill(pid, 0);
        return true;
      } catch (error) {
        return (error as NodeJS.ErrnoException).code === "EPERM";
      }
    },
  };
}

const ago = (fromIso: string, now: Date) => {
  const s = Math.max(0, Math.round((now.getTime() - Date.parse(fromIso)) / 1000));
  return s < 120 ? `${s} s ago` : `${Math.round(s / 60)} min ago`;
};

/** The holder, for messages; a scoped lock's holder is named with its runbook and stack. */
export function describeHolder(l: LockRecord, now: Date): string {
  const run = l.scope ? `${l.runbook} run ${l.runId} (stack ${l.stack})` : `run ${l.runId}`;
  return `${run} on host ${l.host} (pid ${l.pid}${l.user ? `, user ${l.user}` : ""}), started ${l.startedAt}, last heartbeat ${l.heartbeatAt} (${ago(l.heartbeatAt, now)})`;
}

export interface AcquireInput extends LockTarget {
  store: ReliableStore;
  runId: string;
  startedAt: string;
  takeOver: boolean;
  log: Logger;
  now: () => Date;
  me?: Me;
  /** Called when a heartbeat finds the lock taken over (or released) by someone else. */
  onLost: (error: LockLostError) => void;
}

export class RunLock {
  readonly key: string;
  private etag: string;
  private record: LockRecord;
  private timer: NodeJS.Timeout | undefined;
  private beating: Promise<void> = Promise.resolve();
  private lost = false;
  /** When the lock was last written by this holder (ms since the epoch, the input clock). */
  private writtenAt: number;
  private readonly input: AcquireInput;

  private constructor(input: AcquireInput, key: string, record: LockRecord, etag: string) {
    this.input = input;
    this.key = key;
    this.record = record;
    this.etag = etag;
    this.writtenAt = input.now().getTime();
  }

  /** Takes the lock or throws BadInputError naming the holder (nothing changed). */
  /**
   * Whether `acquire` would be refused, read only (nothing written): the same refusal, naming the
   * holder, thrown before a run reads anything else; a free or takeable lock returns.
   */
  static async check(input: AcquireInput): Promise<void> {
    const current = await input.store.get(lockKey(input));
    if (!current) return;
    const quiet = { ...input, log: { info: () => undefined, warn: () => undefined } };
    decide(
      JSON.parse(current.body) as LockRecord,
      RunLock.recordOf(input),
      quiet,
      input.me ?? thisProcess(),
      input.now(),
    );
  }

  private static recordOf(input: AcquireInput, now: Date = input.now()): LockRecord {
    const me = input.me ?? thisProcess();
    return {
      version: 1,
      runbook: input.runbook,
      stack: input.stack,
      ...(input.scope ? { scope: input.scope.name } : {}),
      runId: input.runId,
      host: me.host,
      pid: me.pid,
      user: me.user,
      startedAt: input.startedAt,
      heartbeatAt: now.toISOString(),
      state: "held",
    };
  }

  static async acquire(input: AcquireInput): Promise<RunLock> {
    const me = input.me ?? thisProcess();
    const now = input.now();
    const key = lockKey(input);
    const mine = RunLock.recordOf(input, now);
    for (let round = 0; round < 3; round++) {
      const current = await input.store.get(key);
      try {
        if (!current) {
          const etag = await input.store.create(key, JSON.stringify(mine, null, 2));
          return new RunLock(input, key, mine, etag).start();
        }
        const held = JSON.parse(current.body) as LockRecord;
        const record = decide(held, mine, input, me, now);
        const etag = await input.store.replace(key, JSON.stringify(record, null, 2), current.etag);
        return new RunLock(input, key, record, etag).start();
      } catch (error) {
        // Someone wrote the lock between our read and our write: read it again.
        if (error instanceof PreconditionFailedError) continue;
        throw error;
      }
    }
    throw new BadInputError(
      `the run lock ${key} keeps changing under us: another run of ${lockName(input)} is starting; try again in a minute`,
    );
  }

  private start(): this {
    this.timer = setInterval(() => void this.heartbeat(), HEARTBEAT_MS);
    this.timer.unref();
    return this;
  }

  /**
   * Proves the holder alive now. Skipped when the lock was written less than half a heartbeat
   * ago: another version would prove nothing more.
   */
  heartbeat(): Promise<void> {
    if (this.lost) return Promise.resolve();
    if (this.input.now().getTime() - this.writtenAt < HEARTBEAT_MS / 2) return this.beating;
    this.beating = this.beating.then(() => this.write({ ...this.record, heartbeatAt: this.input.now().toISOString() }));
    return this.beating;
  }

  private async write(next: LockRecord): Promise<void> {
    if (this.lost) return;
    try {
      this.etag = await this.input.store.replace(this.key, JSON.stringify(next, null, 2), this.etag);
      this.record = next;
      this.writtenAt = this.input.now().getTime();
    } catch (error) {
      if (error instanceof PreconditionFailedError) {
        this.lost = true;
        clearInterval(this.timer);
        const now = await this.input.store.get(this.key).catch(() => undefined);
        const holder = now ? describeHolder(JSON.parse(now.body) as LockRecord, this.input.now()) : "someone else";
        this.input.onLost(
          new LockLostError(
            `the run lock ${this.key} was taken over by ${holder}: this process stops and starts no new step`,
          ),
        );
        return;
      }
      this.input.log.warn(
        `run lock heartbeat not written (${(error as Error).message}); the run continues, but after ${SILENT_AFTER_MS / 60_000} min of silence another machine may take it over with --take-over`,
      );
    }
  }

  /** Marks the lock released with how the run ended, and whether a resume can continue it. */
  async release(status: RunStatus, resumable: boolean): Promise<void> {
    clearInterval(this.timer);
    await this.beating;
    if (this.lost) return;
    try {
      await this.write({
        ...this.record,
        state: "released",
        status,
        resumable,
        heartbeatAt: this.input.now().toISOString(),
      });
    } catch (error) {
      this.input.log.warn(`run lock ${this.key} not released: ${(error as Error).message}`);
    }
  }
}

/** What to write over an existing lock, or a refusal naming the holder. */
function decide(held: LockRecord, mine: LockRecord, input: AcquireInput, me: Me, now: Date): LockRecord {
  // A scoped lock may be held by another runbook of the scope: continuing its work is a run of that runbook.
  const other = held.runbook !== mine.runbook;
  const same = held.runId === mine.runId && !other;
  const resumeIt = other
    ? `run ${held.runbook} with --resume ${held.runId} --stack ${held.stack}`
    : `--resume ${held.runId}`;
  if (held.state === "released") {
    if (!same && held.status && held.status !== "succeeded" && held.resumable !== false) {
      const previous = held.scope
        ? `${held.runbook} run ${held.runId} (stack ${held.stack}, host ${held.host})`
        : `run ${held.runId} (host ${held.host})`;
      input.log.warn(
        `the previous ${previous} ended ${held.status}; to continue it instead of starting anew: ${resumeIt}`,
      );
    }
    return mine;
  }
  const silentMs = now.getTime() - Date.parse(held.heartbeatAt);
  const silent = silentMs > SILENT_AFTER_MS;
  const holder = describeHolder(held, now);
  if (same && held.host === me.host && held.pid !== me.pid && !me.alive(held.pid)) {
    input.log.info(`continuing run ${held.runId}: its previous process (pid ${held.pid} on this host) is gone`);
    return mine;
  }
  const what = lockName(input);
  if (!silent) {
    const shared = other
      ? ` ${mine.runbook} shares this lock with ${held.runbook}: run it again once that run has ended.`
      : "";
    // A dead run never ends: say when --take-over becomes allowed, for the case its machine is gone.
    const allowedAt = new Date(Date.parse(held.heartbeatAt) + SILENT_AFTER_MS).toISOString();
    throw new BadInputError(
      `another run holds the lock of ${what}: ${holder}. Only one run at a time: follow that run, or wait until it ends.${shared} If its machine is gone (the run is dead and will never end), --take-over is allowed once it has been silent for ${SILENT_AFTER_MS / 60_000} min: from ${allowedAt} (its last heartbeat was ${held.heartbeatAt}) unless it writes one again.`,
    );
  }
  if (!input.takeOver) {
    throw new BadInputError(
      `another run holds the lock of ${what}: ${holder}, silent for longer than ` +
        `${SILENT_AFTER_MS / 60_000} min. If that machine is gone, take over with --take-over (logged)${same ? "" : `; to continue its work instead: ${resumeIt} --take-over`}.`,
    );
  }
  input.log.warn(`TAKING OVER the run lock of ${what} from ${holder}, because of --take-over`);
  return {
    ...mine,
    takenOverFrom: { runId: held.runId, host: held.host, pid: held.pid, heartbeatAt: held.heartbeatAt },
  };
}

/** The lock as it stands (dry runs warn about a run in progress). */
export async function readLock(store: ReliableStore, target: LockTarget): Promise<LockRecord | undefined> {
  const current = await store.get(lockKey(target));
  return current ? (JSON.parse(current.body) as LockRecord) : undefined;
}
