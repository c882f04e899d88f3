/**
 * DNS failover and the DR pilot light, as the pair declares them: how long until the health
 * check trips, how long clients keep the old answer, whether there are services to scale.
 */
import { FIGURES } from "./figures.ts";
import type { Failover } from "./model.ts";
import { arr, of, ref, T, type DeclaredResource, type PairContext } from "./resources.ts";

/** DNS failover (health check + failover records) and the DR pilot light, as declared. */
export function failoverFrom(rs: DeclaredResource[], pair: PairContext): Failover {
  const check = of(rs, T.healthCheck)[0];
  const records = of(rs, T.record).filter((r) =>
    arr<any>(r.inputs.failoverRoutingPolicies).some((p) => p.type === "SECONDARY" || p.type === "PRIMARY"),
  );
  const services = of(rs, T.ecsService).filter((r) => r.stack === pair.drStack);
  const detection =
    check && records.length >= 2
      ? (Number(check.inputs.requestInterval ?? 30) * Number(check.inputs.failureThreshold ?? 3)) / 60
      : null;
  const ttl = records.length >= 2 ? Math.max(...records.map((r) => Number(r.inputs.ttl ?? 0))) / 60 : null;
  const parts = [
    detection === null
      ? "no DNS failover declared"
      : `health check every ${check!.inputs.requestInterval ?? 30} s, unhealthy after ${check!.inputs.failureThreshold ?? 3} failures; failover records TTL ${ttl! * 60} s`,
    services.length === 0
      ? "no DR pilot light declared"
      : `pilot light: ${services.length} ECS services in ${pair.drRegion} at desired count ${services.map((s) => s.inputs.desiredCount ?? 0).join("/")}`,
  ];
  return {
    detectionMinutes: detection,
    ttlMinutes: ttl,
    scaleUpMinutes: services.length === 0 ? null : FIGURES.serviceScaleUp.value,
    description: parts.join("; "),
    resources: [...(check ? [check] : []), ...records, ...services].map(ref),
  };
}
