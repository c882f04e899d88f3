/** The primary stack's health as the failover runbooks judge it; errors count as unhealthy evidence. */
import { RDSClient } from "@aws-sdk/client-rds";
import { Route53Client } from "@aws-sdk/client-route-53";
import { BadInputError, errorMessage } from "../lib/errors.ts";
import { withTimeout } from "../lib/time.ts";
import type { RunContext } from "../lib/types.ts";
import { healthCheckState } from "./dns.ts";
import { describeInstance } from "./rds.ts";

/** A probe of a region that may be down must not hang the runbook. */
const PROBE_MS = 20_000;
type Ctx = RunContext<unknown>;

export interface PrimaryAssessment {
  healthCheck: string;
  healthCheckHealthy: boolean;
  database: string;
  primaryHealthy: boolean;
  forced: boolean;
}

/** Health check + database state of the primary; errors count as unhealthy evidence. */
export async function assessPrimary(ctx: Ctx): Promise<PrimaryAssessment> {
  const prod = ctx.outputs;
  const hc = await withTimeout(
    healthCheckState(ctx.aws(Route53Client, "us-east-1"), prod.dns.primaryHealthCheckId),
    PROBE_MS,
    "health check status",
  )
    .then((h) => ({ ok: h.healthy, text: `health check ${prod.dns.primaryHealthCheckId}: ${h.detail}` }))
    .catch((e) => ({
      ok: false,
      text: `health check ${prod.dns.primaryHealthCheckId} unreadable: ${errorMessage(e)}`,
    }));
  const db = await withTimeout(
    describeInstance(ctx.aws(RDSClient, prod.region), prod.database.instanceIdentifier),
    PROBE_MS,
    `describe ${prod.database.instanceIdentifier}`,
  )
    .then((i) => ({
      ok: i?.DBInstanceStatus === "available",
      text: `${prod.database.instanceIdentifier} is ${i?.DBInstanceStatus ?? "missing"}`,
    }))
    .catch((e) => ({
      ok: false,
      text: `${prod.database.instanceIdentifier} unreachable in ${prod.region}: ${errorMessage(e)}`,
    }));
  return {
    healthCheck: hc.text,
    healthCheckHealthy: hc.ok,
    database: db.text,
    primaryHealthy: hc.ok && db.ok,
    forced: hc.ok && db.ok && ctx.force,
  };
}

export function requirePrimaryStack(ctx: Ctx, runbook: string): void {
  if (ctx.outputs.role !== "primary") {
    throw new BadInputError(
      `${runbook} acts on the primary stack and its DR peer: --stack must be the primary stack (role "primary"), got "${ctx.outputs.stack}" (role "${ctx.outputs.role}"); use --stack ${ctx.outputs.peerStack}`,
    );
  }
  if (ctx.peer?.role !== "dr")
    throw new BadInputError(`peer stack "${ctx.outputs.peerStack}" has role "${ctx.peer?.role}", expected "dr"`);
}
