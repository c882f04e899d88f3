/** Route 53 helpers: read a failover record, point it at a target, health-check status. */
import { waiterTiming } from "./waiters.ts";
import {
  ChangeResourceRecordSetsCommand,
  GetHealthCheckStatusCommand,
  ListResourceRecordSetsCommand,
  waitUntilResourceRecordSetsChanged,
  type ResourceRecordSet,
  type Route53Client,
} from "@aws-sdk/client-route-53";
import type { StackOutputs } from "../../infra/outputs.ts";
import type { PlannedAction } from "../lib/types.ts";

type Dns = StackOutputs["dns"];

const fqdn = (name: string) => (name.endsWith(".") ? name : `${name}.`).toLowerCase();
const bare = (name: string) => name.replace(/\.$/, "").toLowerCase();

export async function getFailoverRecord(
  r53: Route53Client,
  dns: Dns,
  setIdentifier: string,
): Promise<ResourceRecordSet | undefined> {
  const res = await r53.send(
    new ListResourceRecordSetsCommand({
      HostedZoneId: dns.hostedZoneId,
      StartRecordName: dns.recordName,
      StartRecordType: dns.recordType,
      StartRecordIdentifier: setIdentifier,
      MaxItems: 10,
    }),
  );
  return res.ResourceRecordSets?.find(
    (r) =>
      fqdn(r.Name ?? "") === fqdn(dns.recordName) && r.Type === dns.recordType && r.SetIdentifier === setIdentifier,
  );
}

/** The value the record answers with (CNAME target). */
export function recordValue(r: ResourceRecordSet | undefined): string | undefined {
  const v = r?.ResourceRecords?.[0]?.Value ?? r?.AliasTarget?.DNSName;
  return v === undefined ? undefined : bare(v);
}

export function pointsAt(r: ResourceRecordSet | undefined, target: string): boolean {
  return recordValue(r) === bare(target);
}

export function upsertRecord(
  dns: Dns,
  setIdentifier: string,
  failover: "PRIMARY" | "SECONDARY",
  target: string,
  healthCheckId: string | undefined,
): ResourceRecordSet {
  return {
    Name: dns.recordName,
    Type: dns.recordType,
    SetIdentifier: setIdentifier,
    Failover: failover,
    TTL: dns.ttl,
    ResourceRecords: [{ Value: target }],
    ...(healthCheckId ? { HealthCheckId: healthCheckId } : {}),
  };
}

export function describeUpsert(dns: Dns, record: ResourceRecordSet): PlannedAction {
  return {
    kind: "aws",
    action: "route53:ChangeResourceRecordSets (UPSERT)",
    detail: {
      HostedZoneId: dns.hostedZoneId,
      Name: record.Name,
      SetIdentifier: record.SetIdentifier,
      Failover: record.Failover,
      Value: record.ResourceRecords?.[0]?.Value,
      HealthCheckId: record.HealthCheckId ?? null,
    },
  };
}

/** UPSERTs the record and waits (SDK waiter, bounded) until Route 53 reports INSYNC. */
export async function applyRecord(
  r53: Route53Client,
  dns: Dns,
  record: ResourceRecordSet,
  comment: string,
  maxWaitMinutes: number,
  signal?: AbortSignal,
): Promise<string> {
  const res = await r53.send(
    new ChangeResourceRecordSetsCommand({
      HostedZoneId: dns.hostedZoneId,
      ChangeBatch: { Comment: comment, Changes: [{ Action: "UPSERT", ResourceRecordSet: record }] },
    }),
  );
  const changeId = res.ChangeInfo!.Id!;
  await waitUntilResourceRecordSetsChanged(
    { client: r53, ...waiterTiming(maxWaitMinutes, 5, 30, signal) },
    { Id: changeId },
  );
  return changeId;
}

export interface HealthCheckState {
  healthy: boolean;
  checkers: number;
  failing: number;
  detail: string;
}

/** Healthy when most Route 53 checkers report success (as Route 53 itself decides). */
export async function healthCheckState(r53: Route53Client, healthCheckId: string): Promise<HealthCheckState> {
  const res = await r53.send(new GetHealthCheckStatusCommand({ HealthCheckId: healthCheckId }));
  const obs = res.HealthCheckObservations ?? [];
  const failing = obs.filter((o) => !/^Success/i.test(o.StatusReport?.Status ?? "")).length;
  const healthy = obs.length > 0 && failing * 2 < obs.length;
  return {
    healthy,
    checkers: obs.length,
    failing,
    detail: `${obs.length - failing}/${obs.length} checkers report success`,
  };
}
