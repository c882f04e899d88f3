/**
 * The copy of a run's journal in the shared store, so that `--resume <run-id>` works from any
 * machine. The local journal stays the first record (written synchronously on every change);
 * the shared copy follows it, each write conditional on the previous one's etag, so that a run
 * taken over by another machine finds out at its next write and stops.
 */
import { PreconditionFailedError, type ReliableStore } from "./run-store.ts";
import type { Logger } from "./types.ts";
import { LockLostError } from "./run-lock.ts";

export const journalKey = (runbook: string, stack: string, runId: string) =>
  `${runbook}/${stack}/${runId}/journal.json`;
export const reportKey = (runbook: string, stack: string, runId: string) => `${runbook}/${stack}/${runId}/report.json`;

export class JournalMirror {
  readonly store: ReliableStore;
  readonly key: string;
  private etag: string | undefined;
  private latest: string | undefined;
  private writing: Promise<void> | undefined;
  private lost = false;
  private readonly log: Logger;
  private readonly onLost: (error: LockLostError) => void;
  /** Why the shared copy is behind the local journal, while it is. */
  behind: string | undefined;

  /** `etag` undefined: the shared copy does not exist yet and is created by the first write. */
  constructor(
    store: ReliableStore,
    key: string,
    etag: string | undefined,
    log: Logger,
    onLost: (error: LockLostError) => void,
  ) {
    this.store = store;
    this.key = key;
    this.etag = etag;
    this.log = log;
    this.onLost = onLost;
  }

  get location(): string {
    return `${this.store.location} ${this.key}`;
  }

  /** Schedules writing `text` (the newest journal); earlier unwritten versions are skipped. */
  write(text: string): void {
    this.latest = text;
    this.kick();
  }

  /** Resolves once everything written so far reached the store (or failed and was logged). */
  async flush(): Promise<void> {
    while (this.writing) await this.writing;
  }

  private kick(): void {
    if (this.writing || this.lost) return;
    this.writing = (async () => {
      try {
        await this.drain();
      } finally {
        this.writing = undefined;
      }
    })();
  }

  private async drain(): Promise<void> {
    while (this.latest !== undefined && !this.lost) {
      const text = this.latest;
      this.latest = undefined;
      try {
        this.etag =
          this.etag === undefined
            ? await this.store.create(this.key, text)
            : await this.store.replace(this.key, text, this.etag);
        if (this.behind) this.log.info(`shared journal ${this.location} is up to date again`);
        this.behind = undefined;
      } catch (error) {
        if (error instanceof PreconditionFailedError) {
          this.lost = true;
          this.onLost(
            new LockLostError(
              `the shared journal ${this.location} was written by another machine (the run was taken over): this process stops and starts no new step`,
            ),
          );
          return;
        }
        this.latest ??= text;
        if (!this.behind)
          this.log.warn(
            `shared journal ${this.location} not updated (${(error as Error).message}); the local journal has everything, and the next step retries`,
          );
        this.behind = (error as Error).message;
        return;
      }
    }
  }
}
