/**
 * What AWS does downstream of the failover switch, which the emulator does not (moto answers no
 * DNS and never evaluates alarms from metric data):
 * - `cloudWatchEvaluation`: a proxy rule that, when a PutMetricData for the switch's metric passes,
 *   sets the switch alarm to ALARM or OK as CloudWatch would once it evaluates the value;
 * - `startRoute53DataPlane`: an authoritative name server on loopback that answers the failover
 *   record as Route 53's data plane would: PRIMARY while its health check is healthy, SECONDARY
 *   otherwise. A CLOUDWATCH_METRIC check's health comes from its alarm's state (ALARM unhealthy,
 *   OK healthy, INSUFFICIENT_DATA its last known status); other checks from GetHealthCheckStatus.
 *   It reads the emulator directly, never through a test's faulty proxy: Route 53's data plane
 *   keeps answering when the primary region and the Route 53 API do not.
 */
import { CloudWatchClient, DescribeAlarmsCommand, SetAlarmStateCommand } from "@aws-sdk/client-cloudwatch";
import { GetHealthCheckStatusCommand, ListResourceRecordSetsCommand, Route53Client } from "@aws-sdk/client-route-53";
import type { StackOutputs } from "../../contract/stack-outputs.ts";
import type { FaultRule } from "./aws-proxy.ts";
import { startDnsServer, type DnsServer } from "./dns-server.ts";

const cfg = (endpoint: string, region: string) => ({ endpoint, region, maxAttempts: 1 });

/** The value a PutMetricData body (JSON protocol) writes to the switch's metric, if it does. */
export function switchValueIn(body: string, sw: StackOutputs["failover"]["switch"]): number | undefined {
  let doc: { Namespace?: string; MetricData?: { MetricName?: string; Value?: number }[] };
  try {
    doc = JSON.parse(body);
  } catch {
    return undefined;
  }
  if (doc.Namespace !== sw.namespace) return undefined;
  return doc.MetricData?.find((m) => m.MetricName === sw.metricName)?.Value;
}

/**
 * CloudWatch's evaluation of the switch alarm, simulated on the emulator (see the module comment).
 * `spec` may be a getter, read at each request (a re-seeded emulator has a new switch).
 */
export function cloudWatchEvaluation(
  endpoint: string,
  spec: StackOutputs["failover"]["switch"] | (() => StackOutputs["failover"]["switch"]),
): FaultRule {
  const clients = new Map<string, CloudWatchClient>();
  return async (req) => {
    const sw = typeof spec === "function" ? spec() : spec;
    if (req.service !== "monitoring" || req.action !== "PutMetricData" || req.region !== sw.region) return undefined;
    if (!clients.has(sw.region)) clients.set(sw.region, new CloudWatchClient(cfg(endpoint, sw.region)));
    const cw = clients.get(sw.region)!;
    const value = switchValueIn(req.body, sw);
    if (value === undefined) return undefined;
    await cw.send(
      new SetAlarmStateCommand({
        AlarmName: sw.alarmName,
        StateValue: value >= sw.threshold ? "ALARM" : "OK",
        StateReason: `simulated evaluation: ${sw.metricName} = ${value} (threshold ${sw.threshold})`,
      }),
    );
    return undefined;
  };
}

export interface Route53DataPlane {
  dns: DnsServer;
  /** What to record as `failover.nameServers`. */
  nameServers: string[];
  close(): Promise<void>;
}

/** Serves the failover record of `stack()` (read at each query, so one server outlives re-seeds). */
export async function startRoute53DataPlane(endpoint: string, stack: () => StackOutputs): Promise<Route53DataPlane> {
  const r53 = new Route53Client(cfg(endpoint, "us-east-1"));
  const cws = new Map<string, CloudWatchClient>();
  const cwIn = (region: string) => {
    if (!cws.has(region)) cws.set(region, new CloudWatchClient(cfg(endpoint, region)));
    return cws.get(region)!;
  };
  const lastKnown = new Map<string, boolean>();
  const healthy = async (healthCheckId: string | undefined): Promise<boolean> => {
    if (!healthCheckId) return true;
    const sw = stack().failover.switch;
    if (healthCheckId === sw.healthCheckId) {
      const alarm = (await cwIn(sw.region).send(new DescribeAlarmsCommand({ AlarmNames: [sw.alarmName] })))
        .MetricAlarms?.[0];
      const state = alarm?.StateValue;
      const h = state === "ALARM" ? false : state === "OK" ? true : (lastKnown.get(healthCheckId) ?? true);
      lastKnown.set(healthCheckId, h);
      return h;
    }
    const obs =
      (await r53.send(new GetHealthCheckStatusCommand({ HealthCheckId: healthCheckId }))).HealthCheckObservations ?? [];
    return obs.filter((o) => /^Success/i.test(o.StatusReport?.Status ?? "")).length * 2 > obs.length;
  };
  const dns = await startDnsServer(async (qname, qtype) => {
    const { dns: d } = stack();
    const name = d.recordName.replace(/\.$/, "").toLowerCase();
    if (qname !== name) return undefined;
    const sets =
      (await r53.send(new ListResourceRecordSetsCommand({ HostedZoneId: d.hostedZoneId }))).ResourceRecordSets ?? [];
    const mine = sets.filter((r) => (r.Name ?? "").replace(/\.$/, "").toLowerCase() === name);
    const primary = mine.find((r) => r.Failover === "PRIMARY");
    const secondary = mine.find((r) => r.Failover === "SECONDARY");
    const chosen = primary && (await healthy(primary.HealthCheckId)) ? primary : (secondary ?? primary);
    const ttl = chosen?.TTL ?? 60;
    // An A record answers its addresses to an A question, and nothing of another type (NODATA).
    if (chosen?.Type === "A")
      return { addresses: qtype === "A" ? (chosen.ResourceRecords ?? []).map((r) => r.Value!) : [], ttl };
    const value = chosen?.ResourceRecords?.[0]?.Value;
    return value ? { cname: value.replace(/\.$/, ""), ttl } : undefined;
  });
  return {
    dns,
    nameServers: [dns.address],
    close: async () => {
      await dns.close();
      r53.destroy();
      for (const cw of cws.values()) cw.destroy();
    },
  };
}
