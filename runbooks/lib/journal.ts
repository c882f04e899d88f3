/**
 * The run journal: one JSON file per run id (`<state-dir>/<run-id>/journal.json`), written
 * atomically after every change, so a killed run resumes where it stopped. With a shared store
 * (incident runbooks) every change is also copied there (`shared-journal.ts`), so another
 * machine can resume the run.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync, existsSync } from "node:fs";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { BadInputError } from "./errors.ts";
import { shown } from "./show.ts";
import type { StackOutputs } from "../../contract/stack-outputs.ts";
import type { RawOptions, StepOutputs } from "./types.ts";
import type { TrackerState } from "./tracker.ts";
import type { JournalMirror } from "./shared-journal.ts";

export const JOURNAL_VERSION = 1;

export type StepStatus = "running" | "succeeded" | "skipped" | "failed";
export type RunStatus = "running" | "succeeded" | "failed" | "stopped" | "interrupted";

export interface StepRecord {
  status: StepStatus;
  title: string;
  startedAt: string;
  endedAt?: string;
  /** How many times `run` was started (a resumed step counts again). */
  attempts: number;
  outputs?: StepOutputs;
  /** Why it was skipped, or the error message. */
  note?: string;
  error?: string;
  /** A gate re-checked before a traffic-moving or destructive step: when, and how many times. */
  checkedAt?: string;
  rechecks?: number;
}

/** Where the run's outputs came from, so `--resume` reloads the same source. */
export interface OutputsSource {
  stack?: string;
  file?: string;
}

export interface JournalData {
  version: typeof JOURNAL_VERSION;
  runId: string;
  runbook: string;
  /** The stack acted on (outputs.stack); absent in journals written before it was recorded. */
  stack?: string;
  source: OutputsSource;
  options: RawOptions;
  /**
   * The stack outputs (and the peer's) the run was planned on: a resume with other ones is refused
   * (resume.ts), naming what differs. Absent in journals written before it was recorded.
   */
  inputs?: { outputs: StackOutputs; peer: StackOutputs | null };
  /** Changed inputs a resume went on with because of `--accept-changed-inputs`: when, and what. */
  acceptedChanges?: { at: string; changes: string[] }[];
  force: boolean;
  incidentAt: string;
  startedAt: string;
  finishedAt?: string;
  status: RunStatus;
  /** The run was refused before it changed anything (exit 2): a resume would repeat the refusal. */
  refused?: boolean;
  steps: Record<string, StepRecord>;
  tracker: TrackerState;
}

const RUN_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;

/** A sortable, unique run id: `<runbook>-<UTC timestamp>-<random>`. */
export function newRunId(runbook: string, at = new Date()): string {
  const stamp = at.toISOString().replace(/[-:]/g, "").replace(/\..*$/, "").toLowerCase();
  return `${runbook}-${stamp}-${randomBytes(3).toString("hex")}`;
}

export function validateRunId(runId: string): string {
  if (!RUN_ID.test(runId)) {
    throw new BadInputError(
      `invalid run id ${shown(runId)}: expected letters, digits, ".", "_" or "-" (at most 100 characters)`,
    );
  }
  return runId;
}

/** mkdir -p, its failure named by path and cause (checkStateDir in state-dir.ts says it first, for the flag). */
function makeDir(dir: string): void {
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  } catch (error) {
    throw new BadInputError(
      `cannot create the run's directory ${dir}: ${(error as NodeJS.ErrnoException).code ?? errorText(error)}`,
    );
  }
}

const errorText = (error: unknown) => (error instanceof Error ? error.message : String(error));

export class Journal {
  readonly path: string;
  readonly data: JournalData;
  private mirror: JournalMirror | undefined;
  private constructor(path: string, data: JournalData) {
    this.path = path;
    this.data = data;
  }

  static dir(stateDir: string, runId: string): string {
    return join(stateDir, validateRunId(runId));
  }

  static create(stateDir: string, data: Omit<JournalData, "version" | "status" | "steps" | "tracker">): Journal {
    const dir = Journal.dir(stateDir, data.runId);
    const path = join(dir, "journal.json");
    if (existsSync(path))
      throw new BadInputError(`run id "${data.runId}" already has a journal at ${path}: use --resume ${data.runId}`);
    makeDir(dir);
    const journal = new Journal(path, {
      version: JOURNAL_VERSION,
      status: "running",
      steps: {},
      tracker: { milestones: [], recoveryPoint: null },
      ...data,
    });
    journal.save();
    return journal;
  }

  /** Writes a journal read from the shared store into this machine's state dir (resume from another machine). */
  static adopt(stateDir: string, data: JournalData): Journal {
    const dir = Journal.dir(stateDir, data.runId);
    makeDir(dir);
    const journal = new Journal(join(dir, "journal.json"), data);
    journal.save();
    return journal;
  }

  /** Whether `stateDir` holds a journal for `runId`. */
  static exists(stateDir: string, runId: string): boolean {
    return existsSync(join(Journal.dir(stateDir, runId), "journal.json"));
  }

  static load(stateDir: string, runId: string, runbook: string): Journal {
    const path = join(Journal.dir(stateDir, runId), "journal.json");
    let raw: string;
    try {
      raw = readFileSync(path, "utf8");
    } catch {
      throw new BadInputError(
        `no journal for run id "${runId}" at ${path}: check --state-dir (runs are kept under <state-dir>/<run-id>/)`,
      );
    }
    return new Journal(path, Journal.check(Journal.parse(raw, path), path, runId, runbook));
  }

  /** A journal's text as data; a damaged one is refused naming its file and how to go on. */
  static parse(text: string, where: string): JournalData {
    let data: unknown;
    try {
      data = JSON.parse(text);
    } catch (error) {
      throw new BadInputError(
        `journal ${where} is damaged (not JSON: ${(error as Error).message}); it was not written by the runbook, which replaces it whole. Restore it from the shared copy (resume with --stack <name> to read that one) or a backup, or start a new run (the steps' isDone checks find what is already in place)`,
      );
    }
    if (typeof data !== "object" || data === null || Array.isArray(data) || !("steps" in data))
      throw new BadInputError(`journal ${where} is damaged (not a journal object); start a new run or restore it`);
    return data as JournalData;
  }

  /** Checks a journal's version, run id and runbook; returns it. */
  static check(data: JournalData, where: string, runId: string, runbook: string): JournalData {
    if (data.version !== JOURNAL_VERSION)
      throw new BadInputError(
        `journal ${where} has version ${data.version}; this engine reads version ${JOURNAL_VERSION}`,
      );
    if (data.runId !== runId) throw new BadInputError(`journal ${where} is of run "${data.runId}", not "${runId}"`);
    if (data.runbook !== runbook)
      throw new BadInputError(`run "${runId}" belongs to runbook "${data.runbook}", not "${runbook}"`);
    return data;
  }

  /** Copies every later change to the shared store too. */
  attachMirror(mirror: JournalMirror): void {
    this.mirror = mirror;
    this.save();
  }

  /** Where the shared copy is, while one is kept. */
  get shared(): JournalMirror | undefined {
    return this.mirror;
  }

  /** Resolves when the shared copy has every change so far (no-op without one). */
  async flush(): Promise<void> {
    await this.mirror?.flush();
  }

  get dir(): string {
    return this.path.slice(0, -"/journal.json".length);
  }

  step(id: string): StepRecord | undefined {
    return this.data.steps[id];
  }

  /** A step whose effect is in place: succeeded, or skipped because already done. */
  isFinished(id: string): boolean {
    const s = this.data.steps[id]?.status;
    return s === "succeeded" || s === "skipped";
  }

  started(id: string, title: string, at = new Date()): void {
    const prev = this.data.steps[id];
    this.data.steps[id] = {
      status: "running",
      title,
      startedAt: at.toISOString(),
      attempts: (prev?.attempts ?? 0) + 1,
    };
    this.save();
  }

  finished(id: string, status: "succeeded" | "skipped", outputs: StepOutputs, note?: string, at = new Date()): void {
    const rec = this.data.steps[id];
    this.data.steps[id] = {
      title: rec?.title ?? id,
      startedAt: rec?.startedAt ?? at.toISOString(),
      attempts: rec?.attempts ?? 0,
      status,
      endedAt: at.toISOString(),
      outputs,
      ...(note ? { note } : {}),
    };
    this.save();
  }

  failed(id: string, error: string, at = new Date()): void {
    const rec = this.data.steps[id]!;
    this.data.steps[id] = { ...rec, status: "failed", endedAt: at.toISOString(), error };
    this.save();
  }

  /**
   * A step that failed before its `run` started (its `isDone` check, a gate re-checked before
   * it): recorded as failed, its attempts unchanged (`run` did not start).
   */
  failedBeforeRun(id: string, title: string, error: string, at = new Date()): void {
    const rec = this.data.steps[id];
    this.data.steps[id] = {
      title,
      startedAt: rec?.startedAt ?? at.toISOString(),
      attempts: rec?.attempts ?? 0,
      status: "failed",
      endedAt: at.toISOString(),
      error,
    };
    this.save();
  }

  /** A finished gate step checked again; its newest result replaces the old one. */
  rechecked(id: string, outputs: StepOutputs, at = new Date()): void {
    const rec = this.data.steps[id]!;
    this.data.steps[id] = { ...rec, outputs, checkedAt: at.toISOString(), rechecks: (rec.rechecks ?? 0) + 1 };
    this.save();
  }

  /** Registers a skip without a prior start (the step's effect was already in place). */
  skipped(id: string, title: string, outputs: StepOutputs, note: string, at = new Date()): void {
    this.data.steps[id] = {
      status: "skipped",
      title,
      startedAt: at.toISOString(),
      endedAt: at.toISOString(),
      attempts: this.data.steps[id]?.attempts ?? 0,
      outputs,
      note,
    };
    this.save();
  }

  setTracker(state: TrackerState): void {
    this.data.tracker = state;
    this.save();
  }

  finish(status: RunStatus, at = new Date()): void {
    this.data.status = status;
    this.data.finishedAt = at.toISOString();
    this.save();
  }

  /** Write to a temp file then rename: a kill never leaves half a journal. */
  save(): void {
    const text = JSON.stringify(this.data, null, 2) + "\n";
    const tmp = `${this.path}.${process.pid}.tmp`;
    writeFileSync(tmp, text, { mode: 0o600 });
    renameSync(tmp, this.path);
    this.mirror?.write(text);
  }
}
