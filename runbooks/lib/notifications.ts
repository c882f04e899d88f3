/**
 * Notifications at start, finish and failure. A sink that fails is logged and ignored:
 * a failed notification never fails the recovery, and a slow one never delays a step.
 */
import { errorMessage } from "./errors.ts";
import { RetryBudget } from "./retry.ts";
import type { Logger } from "./types.ts";

export type NotificationKind = "started" | "progress" | "succeeded" | "failed" | "stopped" | "objectives_missed";

export interface Notification {
  kind: NotificationKind;
  runbook: string;
  runId: string;
  stack: string;
  /** One line, e.g. "region-failover started on prod (run …)". */
  subject: string;
  /** Plain text; never secrets. */
  message: string;
}

export interface NotificationSink {
  /** For logs, e.g. "sns arn:aws:sns:…" or "slack". Never the webhook URL. */
  name: string;
  send(notification: Notification): Promise<void>;
}

/** A sink from any publish function (the runbooks wire the stack's SNS topic through this). */
export function publishSink(
  name: string,
  publish: (subject: string, message: string) => Promise<unknown>,
): NotificationSink {
  return {
    name,
    async send(n) {
      await publish(n.subject.slice(0, 99), n.message);
    },
  };
}

/** Slack incoming webhook. The URL is a secret: it is never logged or journaled. */
export function slackSink(webhookUrl: string, fetchImpl: typeof fetch = fetch, timeoutMs = 5000): NotificationSink {
  let url: URL;
  try {
    url = new URL(webhookUrl);
  } catch {
    throw new Error("SLACK_WEBHOOK_URL is not a valid URL (value not shown: it is a secret)");
  }
  if (url.protocol !== "https:" && url.hostname !== "127.0.0.1" && url.hostname !== "localhost") {
    throw new Error("SLACK_WEBHOOK_URL must use https (value not shown: it is a secret)");
  }
  return {
    name: "slack",
    async send(n) {
      const icon =
        n.kind === "started" || n.kind === "progress"
          ? ":rotating_light:"
          : n.kind === "succeeded"
            ? ":white_check_mark:"
            : ":x:";
      const res = await fetchImpl(url, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ text: `${icon} ${n.subject}\n${n.message}` }),
        signal: AbortSignal.timeout(timeoutMs),
      });
      if (!res.ok) throw new Error(`slack webhook answered HTTP ${res.status}`);
    },
  };
}

export interface NotifyResult {
  sink: string;
  ok: boolean;
  error?: string;
}

/** Sends to every sink side by side; never throws. */
export async function notifyAll(sinks: NotificationSink[], n: Notification, log: Logger): Promise<NotifyResult[]> {
  return Promise.all(
    sinks.map(async (sink) => {
      try {
        await sink.send(n);
        return { sink: sink.name, ok: true };
      } catch (error) {
        const message = errorMessage(error);
        log.warn(`notification "${n.kind}" to ${sink.name} failed (recovery continues): ${message}`);
        return { sink: sink.name, ok: false, error: message };
      }
    }),
  );
}

export interface NotifierTiming {
  /** Longest wait for one sink to take one notification (retries included). */
  sendTimeoutMs: number;
  /** Longest wait at the end of a run for notifications still on their way. */
  flushMs: number;
}

/** Each sink gets 10 s per notification; at the end the run waits at most 15 s for stragglers. */
export const NOTIFIER_TIMING: NotifierTiming = { sendTimeoutMs: 10_000, flushMs: 15_000 };

/**
 * Notifications that never delay a step: `send` queues and returns at once; each sink gets its
 * notifications in order, one at a time, each bounded by `sendTimeoutMs` (a transient failure is
 * retried within that time); a sink that fails or does not answer is logged and skipped.
 * `flush` waits, at most `flushMs`, for what is still on its way, and names what was not sent.
 */
export class Notifier {
  private readonly sinks: NotificationSink[];
  private readonly log: Logger;
  private readonly timing: NotifierTiming;
  private readonly queues: Promise<void>[];
  private readonly pending = new Set<string>();

  constructor(sinks: NotificationSink[], log: Logger, timing: Partial<NotifierTiming> = {}) {
    this.sinks = sinks;
    this.log = log;
    this.timing = { ...NOTIFIER_TIMING, ...timing };
    this.queues = sinks.map(() => Promise.resolve());
  }

  send(n: Notification): void {
    this.sinks.forEach((sink, i) => {
      const id = `"${n.kind}" to ${sink.name}`;
      this.pending.add(id);
      this.queues[i] = this.queues[i]!.then(() => this.deliver(sink, n, id)).finally(() => this.pending.delete(id));
    });
  }

  private async deliver(sink: NotificationSink, n: Notification, id: string): Promise<void> {
    const budget = new RetryBudget(
      {
        maxAttempts: 3,
        baseMs: 200,
        capMs: 2000,
        budgetMs: this.timing.sendTimeoutMs,
        callTimeoutMs: Math.min(5000, this.timing.sendTimeoutMs),
      },
      `notification ${id}`,
    );
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<"timeout">((resolve) => {
      timer = setTimeout(() => resolve("timeout"), this.timing.sendTimeoutMs);
    });
    try {
      const outcome = await Promise.race([budget.call(`notification ${id}`, () => sink.send(n)), timeout]);
      if (outcome === "timeout")
        this.log.warn(
          `notification ${id} not answered within ${this.timing.sendTimeoutMs / 1000} s (recovery continues)`,
        );
    } catch (error) {
      this.log.warn(`notification ${id} failed (recovery continues): ${errorMessage(error)}`);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Waits for queued notifications, at most `flushMs`; returns (and logs) those still unsent. */
  async flush(): Promise<string[]> {
    let timer: NodeJS.Timeout | undefined;
    const bound = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, this.timing.flushMs);
    });
    await Promise.race([Promise.all(this.queues), bound]);
    clearTimeout(timer);
    const unsent = [...this.pending];
    if (unsent.length)
      this.log.warn(
        `not waiting longer than ${this.timing.flushMs / 1000} s for notifications ${unsent.join(", ")}: they may not have been sent`,
      );
    return unsent;
  }
}
