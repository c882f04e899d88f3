/**
 * The run journal: one JSON file per run id (`<state-dir>/<run-id>/journal.json`), written
 * atomically after every change, so a killed run resumes where it stopped.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync, existsSync } from "node:fs";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { BadInputError } from "./errors.ts";
import type { RawOptions, StepOutputs } from "./types.ts";
import type { TrackerState } from "./tracker.ts";

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
  source: OutputsSource;
  options: RawOptions;
  force: boolean;
  incidentAt: string;
  startedAt: string;
  finishedAt?: string;
  status: RunStatus;
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
      `invalid run id "${runId}": expected letters, digits, ".", "_" or "-" (at most 100 characters)`,
    );
  }
  return runId;
}

export class Journal {
  readonly path: string;
  readonly data: JournalData;
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
    mkdirSync(dir, { recursive: true, mode: 0o700 });
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
    const data = JSON.parse(raw) as JournalData;
    if (data.version !== JOURNAL_VERSION)
      throw new BadInputError(
        `journal ${path} has version ${data.version}; this engine reads version ${JOURNAL_VERSION}`,
      );
    if (data.runbook !== runbook)
      throw new BadInputError(`run "${runId}" belongs to runbook "${data.runbook}", not "${runbook}"`);
    return new Journal(path, data);
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
    const tmp = `${this.path}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify(this.data, null, 2) + "\n", { mode: 0o600 });
    renameSync(tmp, this.path);
  }
}
