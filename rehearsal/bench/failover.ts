/**
 * Runbook overhead: `region-failover` (developer B's runbook, run in process through the real
 * CLI path) against moto seeded as the stacks would leave it, with every AWS call going
 * through the delaying proxy. The proxy gives each call a latency and holds the restored DB
 * instance in `creating` (and the failover switch's alarm in its old state) for a while, so each
 * step has a known inherent duration; it also applies CloudWatch's evaluation of the switch alarm
 * (moto does not evaluate alarms), and a loopback name server answers as Route 53's data plane
 * (rehearsal/stand-ins/route53-data-plane.ts). Reported per run:
 *   - total: the runbook's wall time;
 *   - critical path: longest dependency chain of the measured step durations (independent
 *     steps side by side count once); total ÷ critical path − 1 is the orchestration overhead;
 *   - polling lag: how long after a hold ended a waiter noticed; the critical path without it
 *     is what a perfect waiter would achieve, and total over that is the overhead judged.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { criticalPath, overheadPercent, type TimedStep } from "./critical-path.ts";
import {
  startDelayProxy,
  type DelayProxy,
  type DelayTable,
  type FaultRule,
  type PendingRule,
} from "../stand-ins/aws-proxy.ts";
import type { Case, RunOutput } from "./harness.ts";

/** Per-call latencies (ms): a plain call ~40 ms, mutating control-plane calls a few hundred. */
export const FAILOVER_DELAYS: DelayTable = {
  "*": 40,
  "rds:RestoreDBInstanceToPointInTime": 400,
  "rds:RestoreDBInstanceFromDBSnapshot": 400,
  "ecs:UpdateService": 250,
  "monitoring:PutMetricData": 120,
};

/**
 * Holds: the restored instance is `creating` for `dbMs`; the DR services report no running task
 * for `ecsMs` after the scale-up; the switch alarm still shows OK for `dnsMs` after the switch
 * is written (CloudWatch's evaluation and Route 53's health checkers take that long).
 */
export function failoverHolds(dbMs: number, ecsMs: number, dnsMs: number): PendingRule[] {
  return [
    {
      after: "ecs:UpdateService",
      on: "ecs:DescribeServices",
      forMs: ecsMs,
      from: '"runningCount":\\s*[1-9]\\d*',
      to: '"runningCount": 0',
      regex: true,
    },
    ...["RestoreDBInstanceToPointInTime", "RestoreDBInstanceFromDBSnapshot"].map((after) => ({
      after: `rds:${after}`,
      on: "rds:DescribeDBInstances",
      forMs: dbMs,
      from: "<DBInstanceStatus>available</DBInstanceStatus>",
      to: "<DBInstanceStatus>creating</DBInstanceStatus>",
    })),
    {
      after: "monitoring:PutMetricData",
      on: "monitoring:DescribeAlarms",
      forMs: dnsMs,
      from: '"StateValue":\\s*"ALARM"',
      to: '"StateValue": "OK"',
      regex: true,
    },
  ];
}

class Sink extends Writable {
  text = "";
  override _write(chunk: Buffer, _e: string, cb: () => void) {
    this.text = (this.text + chunk.toString()).slice(-8000);
    cb();
  }
}

/** What the suite needs from the project: seeding moto and running the runbook in process. */
export interface FailoverDeps {
  /** Seeds a reset moto at `endpoint` and returns the outputs document for `--outputs`. */
  seed: (endpoint: string) => Promise<unknown>;
  /** Runs region-failover with `argv` against `endpoint`; returns its exit code and report. */
  run: (
    argv: string[],
    endpoint: string,
    out: Writable,
  ) => Promise<{
    exitCode: number;
    report?: {
      startedAt: string;
      finishedAt: string;
      steps: {
        id: string;
        startedAt: string | null;
        endedAt: string | null;
        durationMs: number | null;
        status: string;
      }[];
    };
  }>;
  /** Each step's prerequisites (the engine's resolved dependsOn), e.g. from a --dry-run plan. */
  dependencies: (argv: string[], endpoint: string) => Promise<Map<string, string[]>>;
  /** Extra CLI arguments (stack selection, --yes, --force). */
  argv: string[];
  reset: () => Promise<void>;
  /** What AWS does downstream that the emulator does not (CloudWatch's evaluation of the switch alarm). */
  rule?: () => FaultRule;
}

export function failoverCase(
  motoEndpoint: string,
  deps: FailoverDeps,
  holds: { dbMs: number; ecsMs: number; dnsMs: number },
): Case & { proxy: () => DelayProxy | undefined; criticalSteps: () => string[]; close: () => Promise<void> } {
  let proxy: DelayProxy | undefined;
  let dir: string | undefined;
  let outputsFile = "";
  let dependsOn: Map<string, string[]> | undefined;
  let lastPath: string[] = [];
  const argv = () => ["--outputs", outputsFile, "--state-dir", join(dir!, "runs"), ...deps.argv];
  return {
    id: "ours.region_failover",
    label: "region-failover behind the delaying proxy",
    proxy: () => proxy,
    criticalSteps: () => lastPath,
    prepare: async () => {
      proxy ??= await startDelayProxy({
        target: motoEndpoint,
        delays: FAILOVER_DELAYS,
        pending: failoverHolds(holds.dbMs, holds.ecsMs, holds.dnsMs),
        ...(deps.rule ? { rule: deps.rule() } : {}),
      });
      dir ??= await mkdtemp(join(tmpdir(), "eventchain-bench-failover-"));
      await deps.reset();
      const outputsDoc = await deps.seed(motoEndpoint);
      outputsFile = join(dir, "outputs.json");
      await writeFile(outputsFile, JSON.stringify(outputsDoc));
      dependsOn ??= await deps.dependencies(argv(), motoEndpoint);
      proxy.clear();
    },
    run: async (): Promise<RunOutput> => {
      const out = new Sink();
      const t0 = Date.now();
      const r = await deps.run(argv(), proxy!.url, out);
      const totalSeconds = (Date.now() - t0) / 1000;
      if (r.exitCode !== 0 || !r.report)
        throw new Error(`region-failover exited ${r.exitCode}: ${out.text.trim().split("\n").slice(-3).join(" | ")}`);
      const steps: TimedStep[] = r.report.steps.map((s) => ({
        id: s.id,
        seconds: (s.durationMs ?? 0) / 1000,
        dependsOn: dependsOn!.get(s.id) ?? [],
      }));
      const measured = criticalPath(steps);
      lastPath = measured.path;
      // Subtract each polling lag from the step it happened in: what a perfect waiter would take.
      const lags = proxy!.holds().filter((h) => h.lagMs !== null && h.seenReadyAt !== null);
      const ideal = steps.map((s) => {
        const rs = r.report!.steps.find((x) => x.id === s.id)!;
        const start = rs.startedAt ? Date.parse(rs.startedAt) : NaN;
        const end = rs.endedAt ? Date.parse(rs.endedAt) : NaN;
        const lag = lags
          .filter((h) => h.seenReadyAt! >= start && h.seenReadyAt! <= end)
          .reduce((a, h) => a + h.lagMs!, 0);
        return { ...s, seconds: Math.max(0, s.seconds - lag / 1000) };
      });
      const idealPath = criticalPath(ideal);
      const lagSeconds = lags.reduce((a, h) => a + h.lagMs!, 0) / 1000;
      return {
        seconds: totalSeconds,
        phases: Object.fromEntries(steps.map((s) => [s.id, s.seconds])),
        metrics: {
          criticalPathSeconds: measured.seconds,
          idealCriticalPathSeconds: idealPath.seconds,
          sequentialSeconds: measured.sequentialSeconds,
          pollingLagSeconds: lagSeconds,
          overheadVsCriticalPathPercent: overheadPercent(totalSeconds, measured.seconds),
          overheadVsIdealPercent: overheadPercent(totalSeconds, idealPath.seconds),
          apiCalls: proxy!.calls.length,
          injectedDelaySeconds: proxy!.calls.reduce((a, c) => a + c.delayMs, 0) / 1000,
        },
      };
    },
    close: async () => {
      await proxy?.close();
      if (dir) await rm(dir, { recursive: true, force: true });
    },
  };
}
