/** Terminal progress (human, on stderr) or NDJSON events (`--json`, on stdout). */
import type { Writable } from "node:stream";
import type { StatusReport } from "./tracker.ts";
import type { PlanEntry } from "./dry-run.ts";

export type StepState = "started" | "succeeded" | "skipped" | "failed";

export interface Printer {
  /** A human at a terminal (spinners allowed). */
  readonly interactive: boolean;
  info(message: string): void;
  warn(message: string): void;
  progress(message: string): void;
  step(id: string, title: string, state: StepState, note: string | undefined, status: StatusReport): void;
  planStep(entry: PlanEntry): void;
  /** The final line(s): a summary, or in JSON mode the result event. */
  final(event: Record<string, unknown>, summary: string): void;
}

export interface PrinterOptions {
  json: boolean;
  stdout: Writable;
  stderr: Writable;
  interactive: boolean;
  now?: () => Date;
}

const mmss = (minutes: number) => {
  const total = Math.max(0, Math.round(Math.abs(minutes) * 60));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  return `${h ? `${h}h` : ""}${String(m).padStart(2, "0")}m${String(s).padStart(2, "0")}s`;
};

const ICON: Record<StepState, string> = { started: "▶", succeeded: "✔", skipped: "↷", failed: "✖" };

export function createPrinter(o: PrinterOptions): Printer {
  const now = o.now ?? (() => new Date());
  const event = (e: Record<string, unknown>) =>
    o.stdout.write(JSON.stringify({ at: now().toISOString(), ...e }) + "\n");
  if (o.json) {
    return {
      interactive: false,
      info: (message) => event({ event: "info", message }),
      warn: (message) => event({ event: "warning", message }),
      progress: (message) => event({ event: "progress", message }),
      step: (id, title, state, note, status) =>
        event({ event: `step_${state}`, step: id, title, ...(note ? { note } : {}), tracker: status }),
      planStep: (entry) => event({ event: "planned_step", ...entry }),
      final: (e) => event(e),
    };
  }
  const line = (s: string) => o.stderr.write(s + "\n");
  return {
    interactive: o.interactive,
    info: (m) => line(m),
    warn: (m) => line(`WARNING: ${m}`),
    progress: (m) => line(`  … ${m}`),
    step: (id, title, state, note, status) => {
      const left =
        status.remainingMinutes >= 0
          ? `${mmss(status.remainingMinutes)} left to RTO`
          : `RTO exceeded by ${mmss(status.remainingMinutes)}`;
      line(
        `[+${mmss(status.elapsedMinutes)} | ${left} | ${status.status}] ${ICON[state]} ${title} (${id})${note ? `: ${note}` : ""}`,
      );
    },
    planStep: (entry) => {
      line(
        `\n• ${entry.title} [${entry.id}]${entry.flags.length ? ` (${entry.flags.join(", ")})` : ""}${entry.dependsOn.length ? ` after ${entry.dependsOn.join(", ")}` : ""}`,
      );
      for (const a of entry.actions)
        line(`    ${a.kind.padEnd(7)} ${a.action}${a.detail ? ` ${JSON.stringify(a.detail)}` : ""}`);
    },
    final: (_e, summary) => o.stdout.write(summary + "\n"),
  };
}
