/**
 * Route 53 health-check status, as Route 53 itself decides it. (Routing is never changed through
 * the Route 53 API on the day: traffic moves with the failover switch, see switch.ts.)
 */
import { GetHealthCheckStatusCommand, type HealthCheckObservation, type Route53Client } from "@aws-sdk/client-route-53";

export interface HealthCheckState {
  healthy: boolean;
  checkers: number;
  failing: number;
  detail: string;
}

/** Healthy when most Route 53 checkers report success. */
export function healthFromObservations(obs: HealthCheckObservation[]): HealthCheckState {
  const failing = obs.filter((o) => !/^Success/i.test(o.StatusReport?.Status ?? "")).length;
  const healthy = obs.length > 0 && failing * 2 < obs.length;
  return {
    healthy,
    checkers: obs.length,
    failing,
    detail: `${obs.length - failing}/${obs.length} checkers report success`,
  };
}

/** The health check's status (Route 53 control plane, us-east-1). */
export async function healthCheckState(
  r53: Route53Client,
  healthCheckId: string,
  abortSignal?: AbortSignal,
): Promise<HealthCheckState> {
  const res = await r53.send(
    new GetHealthCheckStatusCommand({ HealthCheckId: healthCheckId }),
    abortSignal ? { abortSignal } : {},
  );
  return healthFromObservations(res.HealthCheckObservations ?? []);
}
