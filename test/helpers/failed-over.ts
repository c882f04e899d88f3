/**
 * Where the incident tests start: the primary region's database API refusing every call (the
 * primary is down), a fault proxy in front of the emulator applying it, and a complete
 * region-failover through that proxy — the state failback starts from, and the reference the
 * kill-and-resume tests compare with.
 */
import type { ExecutionContext } from "ava";
import { runbook as regionFailover } from "../../runbooks/region-failover.ts";
import { EXIT } from "../../runbooks/lib/errors.ts";
import { PRIMARY_REGION } from "../../rehearsal/stand-ins/aws-seed.ts";
import { awsFor, type SeededMoto } from "./moto.ts";
import { serviceUnavailable, startFaultProxy, type FaultProxy, type Rule } from "./fault-proxy.ts";
import { runRunbook, workspace, type RunOutcome, type Workspace } from "./run-runbook.ts";

/** Every call to the primary region's RDS API answers 503: region-failover finds the primary down. */
export const primaryDown: Rule = (r) =>
  r.service === "rds" && r.region === PRIMARY_REGION ? serviceUnavailable() : undefined;

/** A fault proxy in front of `endpoint` applying `rule` (default none), closed when the test ends. */
export async function proxyFor(t: ExecutionContext, endpoint: string, rule?: Rule): Promise<FaultProxy> {
  const proxy = await startFaultProxy(endpoint, rule);
  t.teardown(() => proxy.close());
  return proxy;
}

export interface FailedOver {
  /** The workspace the failover ran in, and the outputs file it wrote there. */
  ws: Workspace;
  file: string;
  result: RunOutcome;
}

/** Runs region-failover on the seeded stacks to the end, the primary down (so not fenced); the test fails unless it succeeds. */
export async function failOver(t: ExecutionContext, m: Pick<SeededMoto, "moto" | "seeded">): Promise<FailedOver> {
  const ws = workspace(t);
  const file = ws.writeOutputs(m.seeded().file);
  const down = await proxyFor(t, m.moto().endpoint, primaryDown);
  const result = await runRunbook(
    regionFailover,
    ["--outputs", file, "--stack", "prod", "--state-dir", ws.stateDir, "--yes", "--health-attempts", "1"],
    { aws: awsFor(down.endpoint) },
  );
  // The primary is down, so it is not fenced: succeeded with that caveat (exit 5).
  t.is(result.exitCode, EXIT.succeededWithCaveat, result.stdout);
  return { ws, file, result };
}
