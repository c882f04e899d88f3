/**
 * Where incident runbooks keep what several machines must share: the run lock and a copy of
 * each run's journal. The engine needs only conditional writes (create if absent, replace if
 * unchanged); `runbooks/aws/journal-store.ts` implements them with S3 in the DR region.
 */
import { RetryBudget, type RetryDeps, type RetryPolicy } from "./retry.ts";

export interface StoredObject {
  body: string;
  /** Opaque version tag; `replace` succeeds only while the object still has it. */
  etag: string;
}

/** The object changed (or appeared) since it was read: someone else wrote it. */
export class PreconditionFailedError extends Error {
  override name = "PreconditionFailedError";
}

export interface RunStore {
  /** For messages and the report, e.g. `s3://eventchain-backups-dr/runs/ (us-west-2)`. */
  readonly location: string;
  get(key: string, signal?: AbortSignal): Promise<StoredObject | undefined>;
  /** Creates `key`; PreconditionFailedError when it exists already. Returns the new etag. */
  create(key: string, body: string, signal?: AbortSignal): Promise<string>;
  /** Replaces `key` when its etag is still `etag`; PreconditionFailedError otherwise. Returns the new etag. */
  replace(key: string, body: string, etag: string, signal?: AbortSignal): Promise<string>;
  /** Writes `key` whatever it holds (reports). */
  put(key: string, body: string, signal?: AbortSignal): Promise<void>;
}

/**
 * A `RunStore` whose calls retry transient failures, and whose conditional writes survive a lost
 * answer: a write retried after an ambiguous failure that meets "precondition failed" reads the
 * object back, and when it holds exactly what was written, that write was ours.
 */
/** Versions a run wrote to the shared store, by what they were (S3 keeps each as an object version). */
export interface VersionsWritten {
  journal: number;
  lock: number;
  report: number;
  total: number;
}

/** What a key of the run store holds, for counting. */
const kindOf = (key: string): keyof Omit<VersionsWritten, "total"> =>
  key.endsWith("lock.json") ? "lock" : key.endsWith("report.json") ? "report" : "journal";

export class ReliableStore {
  readonly store: RunStore;
  private readonly policy: RetryPolicy;
  private readonly deps: RetryDeps;
  private readonly counts = { journal: 0, lock: 0, report: 0 };

  constructor(store: RunStore, policy: RetryPolicy, deps: RetryDeps = {}) {
    this.store = store;
    this.policy = policy;
    this.deps = deps;
  }

  get location(): string {
    return this.store.location;
  }

  private budget(what: string): RetryBudget {
    return new RetryBudget(this.policy, what, this.deps);
  }

  get(key: string): Promise<StoredObject | undefined> {
    return this.budget("the shared journal").call(`read ${key}`, (signal) => this.store.get(key, signal));
  }

  /** The versions written so far (each successful create, replace or put is one). */
  versionsWritten(): VersionsWritten {
    const { journal, lock, report } = this.counts;
    return { journal, lock, report, total: journal + lock + report };
  }

  private counted<T>(key: string, p: Promise<T>): Promise<T> {
    return p.then((v) => {
      this.counts[kindOf(key)]++;
      return v;
    });
  }

  create(key: string, body: string): Promise<string> {
    return this.counted(
      key,
      this.conditional(`create ${key}`, key, body, (signal) => this.store.create(key, body, signal)),
    );
  }

  replace(key: string, body: string, etag: string): Promise<string> {
    return this.counted(
      key,
      this.conditional(`update ${key}`, key, body, (signal) => this.store.replace(key, body, etag, signal)),
    );
  }

  put(key: string, body: string): Promise<void> {
    return this.counted(
      key,
      this.budget("the shared journal").call(`write ${key}`, (signal) => this.store.put(key, body, signal)),
    );
  }

  private async conditional(
    label: string,
    key: string,
    body: string,
    write: (signal: AbortSignal) => Promise<string>,
  ): Promise<string> {
    let attempts = 0;
    return this.budget("the shared journal").call(label, async (signal) => {
      attempts++;
      try {
        return await write(signal);
      } catch (error) {
        if (error instanceof PreconditionFailedError && attempts > 1) {
          const now = await this.store.get(key, signal);
          if (now?.body === body) return now.etag;
        }
        throw error;
      }
    });
  }
}
