/**
 * Notifications at start, finish and failure. A sink that fails is logged and ignored:
 * a failed notification never fails the recovery.
 */
import { errorMessage } from "./errors.ts";
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
