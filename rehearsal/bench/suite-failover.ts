/**
 * Suite 5: runbook overhead of region-failover (developer B) against moto behind the delaying
 * proxy; see failover.ts for what is measured.
 */
import { Writable } from "node:stream";
import { main } from "../../runbooks/lib/cli.ts";
import { runbook as regionFailover } from "../../runbooks/region-failover.ts";
import { seedStacks, type Seeded } from "../stand-ins/aws-seed.ts";
import { cloudWatchEvaluation, startRoute53DataPlane } from "../stand-ins/route53-data-plane.ts";
import { interleave } from "./harness.ts";
import { value } from "./bench-results.ts";
import { failoverCase, FAILOVER_DELAYS } from "./failover.ts";
import { ensureMoto, type SuiteRunner } from "./bench-context.ts";

/** How the bench calls region-failover: fail over prod to dr, confirmed, primary assumed down. */
export const FAILOVER_ARGV = ["--stack", "prod", "--yes", "--force"];

/** The failover suite: region-failover (developer B) behind the delaying proxy. */
export const failoverSuite: SuiteRunner = async (ctx, progress) => {
  const { moto } = await ensureMoto(ctx);
  const holds = ctx.options.quick
    ? { dbMs: 2000, ecsMs: 1500, dnsMs: 1000 }
    : { dbMs: 30_000, ecsMs: 20_000, dnsMs: 5000 };
  const quiet = new Writable({ write: (_c, _e, cb) => cb() });
  // Route 53's data plane (moto answers no DNS): the zone's name server on loopback.
  let seeded: Seeded | undefined;
  const plane = await startRoute53DataPlane(moto.endpoint, () => seeded!.prod);
  ctx.cleanups.push(() => plane.close());
  const c = failoverCase(
    moto.endpoint,
    {
      reset: () => moto.reset(),
      seed: async (endpoint) => {
        seeded = await seedStacks(endpoint, { failover: { nameServers: plane.nameServers } });
        return seeded.file;
      },
      rule: () => cloudWatchEvaluation(moto.endpoint, () => seeded!.dr.failover.switch),
      run: async (argv, endpoint, out) => {
        const r = await main(regionFailover, {
          argv,
          aws: { endpoint, maxAttempts: 1 },
          ask: null,
          stdout: out,
          stderr: out,
        });
        return { exitCode: r.exitCode, ...(r.report ? { report: r.report } : {}) };
      },
      dependencies: async (argv, endpoint) => {
        const r = await main(regionFailover, {
          argv: [...argv, "--dry-run"],
          aws: { endpoint, maxAttempts: 1 },
          ask: null,
          stdout: quiet,
          stderr: quiet,
        });
        if (!r.plan) throw new Error(`region-failover --dry-run gave no plan (exit ${r.exitCode}): ${r.message}`);
        return new Map(r.plan.map((p) => [p.id, p.dependsOn]));
      },
      argv: FAILOVER_ARGV,
    },
    holds,
  );
  ctx.cleanups.push(() => c.close());
  const [result] = await interleave([c], ctx.options.reps, progress);
  const m = result!.metrics ?? {};
  const overhead = m.overheadVsIdealPercent ?? null;
  return {
    id: "failover",
    title: "",
    cases: [result!],
    ratios: [
      value("failover.overhead_vs_ideal", "total over the critical path with perfect polling", overhead, "%", {
        op: "<=",
        value: 10,
      }),
      value(
        "failover.overhead_vs_measured",
        "total over the critical path of the measured steps (orchestration only)",
        m.overheadVsCriticalPathPercent ?? null,
        "%",
      ),
      value(
        "failover.polling_lag",
        "polling lag, summed over the waits (readiness noticed late)",
        m.pollingLagSeconds ?? null,
        "s",
      ),
      value(
        "failover.parallel_gain",
        "sequential sum of steps over the critical path",
        m.sequentialSeconds && m.criticalPathSeconds ? m.sequentialSeconds / m.criticalPathSeconds : null,
        "×",
      ),
    ],
    notes: [
      `Injected latencies (ms): ${Object.entries(FAILOVER_DELAYS)
        .map(([k, v]) => `${k} ${v}`)
        .join(", ")}.`,
      `Holds: the restored DB instance reports \`creating\` for ${holds.dbMs / 1000} s after the restore call, the DR services no running task for ${holds.ecsMs / 1000} s after the scale-up, the failover switch's alarm in its old state for ${holds.dnsMs / 1000} s after the switch is written.`,
      `Critical path (last run): ${c.criticalSteps().join(" → ")}; steps off it ran side by side with it.`,
      `Medians: total ${result!.seconds.toFixed(2)} s, critical path ${m.criticalPathSeconds?.toFixed(2)} s, with perfect polling ${m.idealCriticalPathSeconds?.toFixed(2)} s, all steps in sequence ${m.sequentialSeconds?.toFixed(2)} s; ${m.apiCalls} API calls.`,
    ],
  };
};
