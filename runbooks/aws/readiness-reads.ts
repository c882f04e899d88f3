/**
 * check-dr-readiness's reads: each asks AWS (prod's region or DR's, read-only) for one family of
 * what DR needs on the day and returns the differences (runbooks/aws/readiness-compare.ts).
 * Nothing here writes, except `reportRestoreValidation` (PutRestoreValidationResult).
 */
import { CloudWatchClient, DescribeAlarmsCommand } from "@aws-sdk/client-cloudwatch";
import { DescribeImagesCommand, ECRClient } from "@aws-sdk/client-ecr";
import {
  DescribeServicesCommand,
  DescribeTaskDefinitionCommand,
  ECSClient,
  type TaskDefinition,
} from "@aws-sdk/client-ecs";
import { DescribeKeyCommand, KMSClient } from "@aws-sdk/client-kms";
import { DescribeDBParametersCommand, RDSClient, type Parameter } from "@aws-sdk/client-rds";
import { GetHealthCheckCommand, ListResourceRecordSetsCommand, Route53Client } from "@aws-sdk/client-route-53";
import { DescribeSecretCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import type { StackOutputs } from "../../contract/stack-outputs.ts";
import type { RunContext } from "../lib/types.ts";

/** How a step gets an AWS client (`ctx.aws`). */
export type AwsClients = RunContext<unknown>["aws"];
import { errorMessage } from "../lib/errors.ts";
import { describeInstance } from "./rds.ts";
import {
  compareDatabase,
  compareTaskDefinitions,
  parseImage,
  type Drift,
  type Parameters,
} from "./readiness-compare.ts";

const nameOf = (e: unknown) => (e as { name?: string }).name ?? "";

/** Each stack's services' task definitions, paired by position (backend, frontend). */
export async function taskDefinitions(aws: AwsClients, s: StackOutputs): Promise<(TaskDefinition | undefined)[]> {
  const ecs = aws(ECSClient, s.region);
  const names = s.services.services.map((x) => x.name);
  const found =
    (await ecs.send(new DescribeServicesCommand({ cluster: s.services.clusterName, services: names }))).services ?? [];
  return Promise.all(
    names.map(async (n) => {
      const arn = found.find((f) => f.serviceName === n)?.taskDefinition;
      return arn
        ? (await ecs.send(new DescribeTaskDefinitionCommand({ taskDefinition: arn }))).taskDefinition
        : undefined;
    }),
  );
}

/** Task definitions of every prod service against its DR counterpart. */
export async function taskDefinitionDrift(
  aws: AwsClients,
  prod: StackOutputs,
  dr: StackOutputs,
): Promise<{ drift: Drift[]; prodDefinitions: TaskDefinition[]; drDefinitions: TaskDefinition[] }> {
  const [p, d] = await Promise.all([taskDefinitions(aws, prod), taskDefinitions(aws, dr)]);
  const drift: Drift[] = [];
  prod.services.services.forEach((svc, i) => {
    const peer = dr.services.services[i];
    const label = `service ${svc.name} / ${peer?.name ?? "(none in DR)"}`;
    if (!peer || !p[i] || !d[i]) {
      drift.push({
        kind: "task-definition",
        what: label,
        prod: p[i] ? "task definition" : "(no service)",
        dr: d[i] ? "task definition" : "(no service)",
      });
      return;
    }
    drift.push(...compareTaskDefinitions(label, p[i]!, d[i]!, { prod: prod.region, dr: dr.region }));
  });
  return {
    drift,
    prodDefinitions: p.filter((x): x is TaskDefinition => x !== undefined),
    drDefinitions: d.filter((x): x is TaskDefinition => x !== undefined),
  };
}

/**
 * Every image prod's services run, present in the DR region's ECR (the same repository, by digest
 * when the task definition pins one, else by tag). An image outside ECR cannot be checked: drift.
 */
export async function missingImages(
  aws: AwsClients,
  prodDefinitions: TaskDefinition[],
  drRegion: string,
): Promise<Drift[]> {
  const ecr = aws(ECRClient, drRegion);
  const images = [
    ...new Set(prodDefinitions.flatMap((td) => (td.containerDefinitions ?? []).map((c) => c.image ?? ""))),
  ].filter(Boolean);
  const out: Drift[] = [];
  for (const image of images.sort()) {
    const ref = parseImage(image);
    if (!ref.region) {
      out.push({
        kind: "image-missing",
        what: `image ${image}`,
        prod: "not in ECR",
        dr: "cannot be checked (not in this account's ECR)",
      });
      continue;
    }
    try {
      const r = await ecr.send(
        new DescribeImagesCommand({
          repositoryName: ref.repository,
          imageIds: [ref.digest ? { imageDigest: ref.digest } : { imageTag: ref.tag ?? "latest" }],
        }),
      );
      if (!r.imageDetails?.length)
        out.push({
          kind: "image-missing",
          what: `image ${ref.repository}${ref.digest ? `@${ref.digest}` : `:${ref.tag}`}`,
          prod: "running",
          dr: `not in ECR ${drRegion}`,
        });
    } catch (error) {
      const n = nameOf(error);
      if (n !== "ImageNotFoundException" && n !== "RepositoryNotFoundException") throw error;
      out.push({
        kind: "image-missing",
        what: `image ${ref.repository}${ref.digest ? `@${ref.digest}` : `:${ref.tag}`}`,
        prod: "running",
        dr:
          n === "RepositoryNotFoundException"
            ? `no repository ${ref.repository} in ECR ${drRegion}`
            : `not in ECR ${drRegion}`,
      });
    }
  }
  return out;
}

async function userParameters(rds: RDSClient, group: string): Promise<Parameters | null> {
  const out: Parameters = new Map();
  let Marker: string | undefined;
  try {
    do {
      const r = await rds.send(
        new DescribeDBParametersCommand({ DBParameterGroupName: group, Source: "user", Marker }),
      );
      for (const p of r.Parameters ?? ([] as Parameter[]))
        if (p.ParameterName) out.set(p.ParameterName, p.ParameterValue ?? "");
      Marker = r.Marker;
    } while (Marker);
  } catch (error) {
    if (nameOf(error) === "DBParameterGroupNotFoundFault" || nameOf(error) === "DBParameterGroupNotFound") return null;
    throw error;
  }
  return out;
}

/** The live prod database's engine version and parameters against what DR restores with (its outputs). */
export async function databaseDrift(aws: AwsClients, prod: StackOutputs, dr: StackOutputs): Promise<Drift[]> {
  const live = await describeInstance(aws(RDSClient, prod.region), prod.database.instanceIdentifier);
  if (!live)
    return [
      {
        kind: "database",
        what: `instance ${prod.database.instanceIdentifier}`,
        prod: `(not found in ${prod.region})`,
        dr: "-",
      },
    ];
  const prodGroup = live.DBParameterGroups?.[0]?.DBParameterGroupName ?? prod.database.parameterGroupName;
  const [pp, dp] = await Promise.all([
    userParameters(aws(RDSClient, prod.region), prodGroup),
    userParameters(aws(RDSClient, dr.region), dr.database.parameterGroupName),
  ]);
  return compareDatabase(
    { engineVersion: live.EngineVersion ?? "?", parameterGroup: prodGroup, parameters: pp ?? new Map() },
    { engineVersion: dr.database.engineVersion, parameterGroup: dr.database.parameterGroupName, parameters: dp },
  );
}

/** Secrets DR's services and database need, and DR's KMS keys, present (and enabled) in DR. */
export async function secretsAndKeysDrift(
  aws: AwsClients,
  dr: StackOutputs,
  drDefinitions: TaskDefinition[],
): Promise<Drift[]> {
  const sm = aws(SecretsManagerClient, dr.region);
  const kms = aws(KMSClient, dr.region);
  const secrets = new Set<string>([dr.database.appConnectionSecretArn]);
  for (const td of drDefinitions)
    for (const c of td.containerDefinitions ?? [])
      for (const s of c.secrets ?? [])
        if (s.valueFrom?.includes(":secretsmanager:")) secrets.add(s.valueFrom.split(":").slice(0, 7).join(":"));
  const out: Drift[] = [];
  for (const id of [...secrets].sort()) {
    try {
      const r = await sm.send(new DescribeSecretCommand({ SecretId: id }));
      if (r.DeletedDate)
        out.push({
          kind: "secret-missing",
          what: `secret ${id}`,
          prod: "-",
          dr: `scheduled for deletion ${r.DeletedDate.toISOString()}`,
        });
    } catch (error) {
      if (nameOf(error) !== "ResourceNotFoundException") throw error;
      out.push({ kind: "secret-missing", what: `secret ${id}`, prod: "-", dr: `does not exist in ${dr.region}` });
    }
  }
  const keys = [
    ["database", dr.database.kmsKeyArn],
    ["backup bucket", dr.backup.kmsKeyArn],
    ["media", dr.media.kmsKeyArn],
  ].filter((k): k is [string, string] => Boolean(k[1]));
  for (const [what, KeyId] of keys) {
    try {
      const k = (await kms.send(new DescribeKeyCommand({ KeyId }))).KeyMetadata;
      if (k?.KeyState !== "Enabled")
        out.push({ kind: "kms-key", what: `${what} key ${KeyId}`, prod: "-", dr: `state ${k?.KeyState ?? "unknown"}` });
    } catch (error) {
      if (nameOf(error) !== "NotFoundException") throw error;
      out.push({ kind: "kms-key", what: `${what} key ${KeyId}`, prod: "-", dr: `does not exist in ${dr.region}` });
    }
  }
  return out;
}

/** The switch as declared: its alarm (metric, dimensions, threshold), its health check, the failover records. */
export async function switchDrift(aws: AwsClients, prod: StackOutputs, dr: StackOutputs): Promise<Drift[]> {
  const sw = prod.failover.switch;
  const out: Drift[] = [];
  const row = (what: string, declared: unknown, live: unknown) => {
    if (JSON.stringify(declared) !== JSON.stringify(live))
      out.push({
        kind: "switch",
        what,
        prod: `declared ${JSON.stringify(declared)}`,
        dr: `live ${JSON.stringify(live ?? null)}`,
      });
  };
  const alarm = (await aws(CloudWatchClient, sw.region).send(new DescribeAlarmsCommand({ AlarmNames: [sw.alarmName] })))
    .MetricAlarms?.[0];
  if (!alarm)
    out.push({ kind: "switch", what: `alarm ${sw.alarmName} (${sw.region})`, prod: "declared", dr: "does not exist" });
  else {
    row(`alarm ${sw.alarmName} metric`, `${sw.namespace}/${sw.metricName}`, `${alarm.Namespace}/${alarm.MetricName}`);
    const dims = (d: { name: string; value: string }[]) => d.map((x) => `${x.name}=${x.value}`).sort();
    row(
      `alarm ${sw.alarmName} dimensions`,
      dims(sw.dimensions),
      dims((alarm.Dimensions ?? []).map((x) => ({ name: x.Name ?? "", value: x.Value ?? "" }))),
    );
    row(`alarm ${sw.alarmName} threshold`, sw.threshold, alarm.Threshold);
  }
  const r53 = aws(Route53Client, "us-east-1");
  try {
    const hc = (await r53.send(new GetHealthCheckCommand({ HealthCheckId: sw.healthCheckId }))).HealthCheck;
    row(`health check ${sw.healthCheckId} type`, "CLOUDWATCH_METRIC", hc?.HealthCheckConfig?.Type);
  } catch (error) {
    if (nameOf(error) !== "NoSuchHealthCheck") throw error;
    out.push({ kind: "switch", what: `health check ${sw.healthCheckId}`, prod: "declared", dr: "does not exist" });
  }
  const dns = prod.dns;
  const name = dns.recordName.endsWith(".") ? dns.recordName : `${dns.recordName}.`;
  const sets =
    (
      await r53.send(
        new ListResourceRecordSetsCommand({
          HostedZoneId: dns.hostedZoneId,
          StartRecordName: name,
          StartRecordType: dns.recordType,
        }),
      )
    ).ResourceRecordSets ?? [];
  const of = (id: string) => sets.find((s) => s.Name === name && s.Type === dns.recordType && s.SetIdentifier === id);
  const primary = of(dns.primarySetIdentifier);
  const secondary = of(dns.secondarySetIdentifier);
  const expectedCheck = prod.failover.mode === "switch" ? sw.healthCheckId : dns.primaryHealthCheckId;
  row(
    `record ${name} PRIMARY (${dns.primarySetIdentifier})`,
    { failover: "PRIMARY", healthCheckId: expectedCheck, target: dns.primaryTarget },
    primary && {
      failover: primary.Failover,
      healthCheckId: primary.HealthCheckId,
      target: primary.ResourceRecords?.[0]?.Value,
    },
  );
  row(
    `record ${name} SECONDARY (${dns.secondarySetIdentifier})`,
    { failover: "SECONDARY", target: dr.dns.secondaryTarget },
    secondary && { failover: secondary.Failover, target: secondary.ResourceRecords?.[0]?.Value },
  );
  return out;
}

/** Whether an error is an answer that the thing is not there, as opposed to a failed call. */
export const isNotFound = (error: unknown) => /NotFound|NoSuch/.test(nameOf(error));
export { errorMessage };
