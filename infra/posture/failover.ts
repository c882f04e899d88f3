/**
 * DNS failover and the DR pilot light, as the pair declares them: how long until the health
 * check trips, how long clients keep the old answer, whether there are services to scale.
 */
import { SWITCH_DETECTION_SECONDS } from "../../contract/switch.ts";
import { FIGURES } from "./figures.ts";
import type { Failover } from "./model.ts";
import { asArray, ofType, RESOURCE_TYPE, resourceLabel, type DeclaredResource, type PairContext } from "./resources.ts";

/**
 * DNS failover (endpoint health check, failover switch, failover records) and the DR pilot light,
 * as declared. Detection is the endpoint health check's (it pages); with a switch, traffic moves
 * when the runbook engages it, `SWITCH_DETECTION_SECONDS` later.
 */
export function failoverFrom(rs: DeclaredResource[], pair: PairContext): Failover {
  const checks = ofType(rs, RESOURCE_TYPE.healthCheck);
  const check = checks.find((c) => c.inputs.type !== "CLOUDWATCH_METRIC");
  const switchCheck = checks.find((c) => c.inputs.type === "CLOUDWATCH_METRIC");
  const records = ofType(rs, RESOURCE_TYPE.record).filter((r) =>
    asArray<any>(r.inputs.failoverRoutingPolicies).some((p) => p.type === "SECONDARY" || p.type === "PRIMARY"),
  );
  const services = ofType(rs, RESOURCE_TYPE.ecsService).filter((r) => r.stack === pair.drStack);
  const detection =
    check && records.length >= 2
      ? (Number(check.inputs.requestInterval ?? 30) * Number(check.inputs.failureThreshold ?? 3)) / 60
      : null;
  const ttl = records.length >= 2 ? Math.max(...records.map((r) => Number(r.inputs.ttl ?? 0))) / 60 : null;
  const parts = [
    detection === null
      ? "no DNS failover declared"
      : `health check every ${check!.inputs.requestInterval ?? 30} s, unhealthy after ${check!.inputs.failureThreshold ?? 3} failures${switchCheck ? ` (pages); failover switch engaged by region-failover, effective within ${SWITCH_DETECTION_SECONDS} s` : ""}; failover records TTL ${ttl! * 60} s`,
    services.length === 0
      ? "no DR pilot light declared"
      : `pilot light: ${services.length} ECS services in ${pair.drRegion} at desired count ${services.map((s) => s.inputs.desiredCount ?? 0).join("/")}`,
  ];
  return {
    detectionMinutes: detection,
    ttlMinutes: ttl,
    switchMinutes: switchCheck ? SWITCH_DETECTION_SECONDS / 60 : 0,
    scaleUpMinutes: services.length === 0 ? null : FIGURES.serviceScaleUp.value,
    description: parts.join("; "),
    resources: [...(check ? [check] : []), ...(switchCheck ? [switchCheck] : []), ...records, ...services].map(
      resourceLabel,
    ),
  };
}
