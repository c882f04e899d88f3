/**
 * The primary stack's health as the failover runbooks judge it: bounded, optional probes run side
 * by side (the Route 53 health-check status, served by the control plane in us-east-1, and the
 * primary database in its region). A probe that errs or gives no answer within its bound counts
 * as unhealthy evidence and is listed as unreachable; nothing waits longer than the bound.
 */
import { RDSClient } from "@aws-sdk/client-rds";
import { describeInstance } from "./rds.ts";
import { GetHealthCheckStatusCommand, Route53Client } from "@aws-sdk/client-route-53";
import type { StackOutputs } from "../../contract/stack-outputs.ts";
import { BadInputError } from "../lib/errors.ts";
import type { OptionSpec, PlannedAction, RawOptions, RunContext } from "../lib/types.ts";
import { positiveNumber, withDefaults } from "../lib/options.ts";
import { bounded, formatSeconds } from "./bounded.ts";
import { healthFromObservations } from "./dns.ts";

type Ctx = RunContext<unknown>;

/** Route 53's API (health checks included) is served from us-east-1, whatever the primary region. */
export const ROUTE53_CONTROL_PLANE = "us-east-1";

/** `--primary-timeout-seconds`: the bound of every call to the primary region or a global control plane. */
export const PRIMARY_TIMEOUT_OPTIONS = {
  "primary-timeout-seconds": {
    type: "string",
    description:
      "Bound of each probe or fencing call to the primary region or Route 53's control plane; one that has not answered by then counts as unreachable",
    default: "10",
  },
} satisfies Record<string, OptionSpec>;

export interface PrimaryTimeoutOptions {
  primaryTimeoutSeconds: number;
}

export function parsePrimaryTimeout(raw: RawOptions): PrimaryTimeoutOptions {
  return {
    primaryTimeoutSeconds: positiveNumber(withDefaults(PRIMARY_TIMEOUT_OPTIONS, raw), "primary-timeout-seconds", 300),
  };
}

export interface PrimaryAssessment {
  healthCheck: string;
  healthCheckHealthy: boolean;
  database: string;
  databaseAvailable: boolean;
  primaryHealthy: boolean;
  forced: boolean;
  /** What did not answer (within the bound or at all), one line each. */
  unreachable: string[];
  /** How long the probes took side by side, ms. */
  probeMs: number;
}

/** What `assessPrimary` calls, for `--dry-run`. */
export function describeProbes(prod: StackOutputs, boundSeconds: number): PlannedAction[] {
  return [
    {
      kind: "aws",
      action: `route53:GetHealthCheckStatus (${ROUTE53_CONTROL_PLANE} control plane, bounded, optional)`,
      detail: { HealthCheckId: prod.dns.primaryHealthCheckId, boundSeconds },
    },
    {
      kind: "aws",
      action: `rds:DescribeDBInstances (${prod.region}, bounded, optional)`,
      detail: { DBInstanceIdentifier: prod.database.instanceIdentifier, boundSeconds },
    },
  ];
}

/** Health check + database state of the primary, probed side by side, each within `boundMs`. */
export async function assessPrimary(ctx: Ctx, boundMs: number): Promise<PrimaryAssessment> {
  const prod = ctx.outputs;
  const started = Date.now();
  const hcId = prod.dns.primaryHealthCheckId;
  const [hc, db] = await Promise.all([
    bounded(
      `route53 GetHealthCheckStatus ${hcId} (${ROUTE53_CONTROL_PLANE} control plane)`,
      boundMs,
      async (abortSignal) =>
        healthFromObservations(
          (
            await ctx
              .aws(Route53Client, ROUTE53_CONTROL_PLANE)
              .send(new GetHealthCheckStatusCommand({ HealthCheckId: hcId }), { abortSignal })
          ).HealthCheckObservations ?? [],
        ),
      ctx.signal,
    ),
    bounded(
      `rds DescribeDBInstances ${prod.database.instanceIdentifier} (${prod.region})`,
      boundMs,
      (abortSignal) => describeInstance(ctx.aws(RDSClient, prod.region), prod.database.instanceIdentifier, abortSignal),
      ctx.signal,
    ),
  ]);
  const healthCheck = hc.ok
    ? { ok: hc.value.healthy, text: `health check ${hcId}: ${hc.value.detail}` }
    : { ok: false, text: `health check ${hcId} unreadable: ${hc.error}` };
  const database = db.ok
    ? {
        ok: db.value?.DBInstanceStatus === "available",
        text: `${prod.database.instanceIdentifier} is ${db.value?.DBInstanceStatus ?? "missing"}`,
      }
    : { ok: false, text: `${prod.database.instanceIdentifier} unreachable in ${prod.region}: ${db.error}` };
  const healthy = healthCheck.ok && database.ok;
  return {
    healthCheck: healthCheck.text,
    healthCheckHealthy: healthCheck.ok,
    database: database.text,
    databaseAvailable: database.ok,
    primaryHealthy: healthy,
    forced: healthy && ctx.force,
    unreachable: [hc, db].flatMap((r) => (r.ok ? [] : [r.error])),
    probeMs: Date.now() - started,
  };
}

/** One line for logs and notes: what the probes found and how long they took. */
export function probeSummary(a: PrimaryAssessment): string {
  return `${a.healthCheck}; ${a.database} (probes side by side, ${formatSeconds(a.probeMs)})`;
}

export function requirePrimaryStack(ctx: Ctx, runbook: string): void {
  if (ctx.outputs.role !== "primary") {
    throw new BadInputError(
      `${runbook} acts on the primary stack and its DR peer: --stack must be the primary stack (role ` +
        `"primary"), got "${ctx.outputs.stack}" (role "${ctx.outputs.role}"); use --stack ${ctx.outputs.peerStack}`,
    );
  }
  if (ctx.peer?.role !== "dr")
    throw new BadInputError(`peer stack "${ctx.outputs.peerStack}" has role "${ctx.peer?.role}", expected "dr"`);
}
