/**
 * Preflight checks of the incident runbooks: everything a run will touch exists and is usable,
 * checked before its first change (and in `--dry-run`). Each check names the resource and, on a
 * gap, what is wrong with it; `runbooks/lib/preflight-gate.ts` runs them and refuses the run (exit 2)
 * naming every gap. Only read calls. A region that is down is not checked (region-failover does
 * not look at the primary region).
 */
import {
  DescribeDBParameterGroupsCommand,
  DescribeDBSubnetGroupsCommand,
  RDSClient,
  type DBInstance,
} from "@aws-sdk/client-rds";
import { DescribeKeyCommand, KMSClient } from "@aws-sdk/client-kms";
import { DescribeSecretCommand, GetSecretValueCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { DescribeClustersCommand, DescribeServicesCommand, ECSClient } from "@aws-sdk/client-ecs";
import {
  DescribeLoadBalancersCommand,
  DescribeTargetGroupsCommand,
  ElasticLoadBalancingV2Client,
} from "@aws-sdk/client-elastic-load-balancing-v2";
import { GetHealthCheckCommand, ListResourceRecordSetsCommand, Route53Client } from "@aws-sdk/client-route-53";
import { CloudWatchClient } from "@aws-sdk/client-cloudwatch";
import { GetTopicAttributesCommand, SNSClient } from "@aws-sdk/client-sns";
import type { ServiceOutputs, StackOutputs } from "../../contract/stack-outputs.ts";
import { errorMessage } from "../lib/errors.ts";
import type { PreflightCheck, RunContext } from "../lib/types.ts";
import { bounded } from "./bounded.ts";
import { switchAlarm, type SwitchSpec } from "./switch.ts";
import { askAll, NO_SUCH_RECORD } from "./authoritative-dns.ts";
import {
  rdsInstanceIdentifierProblem,
  rdsPostgresDbNameProblem,
  s3BucketNameProblem,
} from "../../contract/aws-names.ts";
import { requirePrimaryStack } from "./primary.ts";
import { describeInstance } from "./rds.ts";

type Ctx = RunContext<unknown>;

const NOT_FOUND = /NotFound|NoSuch/;

/** A check whose "not found" errors read as a gap and whose other errors say the check could not be made. */
function check(what: string, run: () => Promise<void | string>): PreflightCheck {
  return {
    what,
    async check() {
      try {
        return await run();
      } catch (error) {
        const name = (error as { name?: string }).name ?? "";
        return NOT_FOUND.test(name) ? `does not exist (${name})` : `could not be checked: ${errorMessage(error)}`;
      }
    },
  };
}

export function dbSubnetGroup(ctx: Ctx, region: string, name: string): PreflightCheck {
  return check(`DB subnet group ${name} (${region})`, async () => {
    const res = await ctx.aws(RDSClient, region).send(new DescribeDBSubnetGroupsCommand({ DBSubnetGroupName: name }));
    const group = res.DBSubnetGroups?.[0];
    if (!group) return "does not exist";
    if (group.SubnetGroupStatus && group.SubnetGroupStatus !== "Complete")
      return `is ${group.SubnetGroupStatus}, expected Complete`;
  });
}

export function dbParameterGroup(ctx: Ctx, region: string, name: string): PreflightCheck {
  return check(`DB parameter group ${name} (${region})`, async () => {
    const res = await ctx
      .aws(RDSClient, region)
      .send(new DescribeDBParameterGroupsCommand({ DBParameterGroupName: name }));
    if (!res.DBParameterGroups?.length) return "does not exist";
  });
}

export function kmsKey(ctx: Ctx, region: string, keyId: string): PreflightCheck {
  return check(`KMS key ${keyId}`, async () => {
    const res = await ctx.aws(KMSClient, region).send(new DescribeKeyCommand({ KeyId: keyId }));
    const state = res.KeyMetadata?.KeyState;
    if (state !== "Enabled") return `is ${state ?? "in an unknown state"}, expected Enabled`;
  });
}

export function ecsCluster(ctx: Ctx, region: string, name: string): PreflightCheck {
  return check(`ECS cluster ${name} (${region})`, async () => {
    const res = await ctx.aws(ECSClient, region).send(new DescribeClustersCommand({ clusters: [name] }));
    const cluster = res.clusters?.find((c) => c.clusterName === name);
    if (!cluster) return `does not exist${res.failures?.[0]?.reason ? ` (${res.failures[0].reason})` : ""}`;
    if (cluster.status !== "ACTIVE") return `is ${cluster.status}, expected ACTIVE`;
  });
}

export function ecsServices(ctx: Ctx, region: string, cluster: string, services: ServiceOutputs[]): PreflightCheck[] {
  const live = async () => {
    const names = services.map((s) => s.name);
    const found = new Map<string, string | undefined>();
    for (let i = 0; i < names.length; i += 10) {
      const res = await ctx
        .aws(ECSClient, region)
        .send(new DescribeServicesCommand({ cluster, services: names.slice(i, i + 10) }));
      for (const s of res.services ?? []) found.set(s.serviceName!, s.status);
    }
    return found;
  };
  let once: ReturnType<typeof live> | undefined;
  return services.map((svc) =>
    check(`ECS service ${svc.name} in ${cluster} (${region})`, async () => {
      const status = (await (once ??= live())).get(svc.name);
      if (status === undefined) return "does not exist";
      if (status !== "ACTIVE") return `is ${status}, expected ACTIVE`;
    }),
  );
}

export function targetGroup(ctx: Ctx, region: string, arn: string): PreflightCheck {
  return check(`target group ${arn}`, async () => {
    const res = await ctx
      .aws(ElasticLoadBalancingV2Client, region)
      .send(new DescribeTargetGroupsCommand({ TargetGroupArns: [arn] }));
    if (!res.TargetGroups?.length) return "does not exist";
  });
}

export function loadBalancer(ctx: Ctx, region: string, dnsName: string): PreflightCheck {
  return check(`load balancer ${dnsName} (${region})`, async () => {
    const res = await ctx.aws(ElasticLoadBalancingV2Client, region).send(new DescribeLoadBalancersCommand({}));
    if (!res.LoadBalancers?.some((l) => l.DNSName?.toLowerCase() === dnsName.toLowerCase())) return "does not exist";
  });
}

export function topic(ctx: Ctx, arn: string): PreflightCheck {
  const region = arn.split(":")[3] || ctx.outputs.region;
  return check(`alert topic ${arn}`, async () => {
    await ctx.aws(SNSClient, region).send(new GetTopicAttributesCommand({ TopicArn: arn }));
  });
}

/** Route 53's control plane is in us-east-1: during a regional event it is asked only within this bound. */
const RECORD_CHECK_MS = 10_000;

const fqdn = (name: string) => name.replace(/\.$/, "").toLowerCase();

/**
 * The failover record the switch's health check steers must exist (the runbooks never create or
 * change records). Route 53's API is a control plane hosted in us-east-1: the check is bounded
 * and optional — when Route 53 does not answer in time it is reported, not held against the run.
 */
export function failoverRecord(ctx: Ctx, dns: StackOutputs["dns"], setIdentifier: string): PreflightCheck {
  return check(
    `${dns.recordType} record ${dns.recordName} (set ${setIdentifier}) in hosted zone ${dns.hostedZoneId}`,
    async () => {
      const r = await bounded(
        "route53:ListResourceRecordSets",
        RECORD_CHECK_MS,
        (abortSignal) =>
          ctx.aws(Route53Client, "us-east-1").send(
            new ListResourceRecordSetsCommand({
              HostedZoneId: dns.hostedZoneId,
              StartRecordName: dns.recordName,
              StartRecordType: dns.recordType,
              StartRecordIdentifier: setIdentifier,
              MaxItems: 10,
            }),
            { abortSignal },
          ),
        ctx.signal,
      );
      if (!r.ok) {
        ctx.log.warn(`preflight: the failover record was not checked (${r.error}); Route 53's API is optional here`);
        return;
      }
      const found = r.value.ResourceRecordSets?.some(
        (x) =>
          fqdn(x.Name ?? "") === fqdn(dns.recordName) && x.Type === dns.recordType && x.SetIdentifier === setIdentifier,
      );
      if (!found)
        return "does not exist: the switch steers an existing failover record and the runbooks never create one";
    },
  );
}

/** How long each authoritative name server has to answer the preflight's question. */
export const RECORD_QUERY_MS = 3000;

/**
 * The same record, asked of the zone's authoritative name servers (Route 53's data plane, which
 * answers when its API and the primary region do not): region-failover's way of checking it —
 * the way its last steps prove clients moved. The outputs must list at least one server; a record
 * no server knows is a gap, and so is no server answering at all, unless the run was told to go
 * on without this proof (`acceptUnanswered`, region-failover's `--unproven-record`: logged).
 */
export function failoverRecordResolves(
  ctx: Ctx,
  dns: StackOutputs["dns"],
  setIdentifier: string,
  acceptUnanswered = false,
): PreflightCheck {
  return check(
    `${dns.recordType} record ${dns.recordName} (set ${setIdentifier}) in hosted zone ${dns.hostedZoneId}`,
    async () => {
      const servers = ctx.outputs.failover.nameServers;
      if (servers.length === 0)
        return "cannot be proved: the outputs list no authoritative name server (failover.nameServers); the failover proves the record, and that clients moved, only by asking them. Deploy the dr stack with this version (it records the zone's name servers), or add them to the outputs file";
      const answers = await askAll(servers, dns.recordName, RECORD_QUERY_MS, dns.recordType);
      if (answers.some((a) => a.answer !== null)) return;
      // NXDOMAIN (ENOTFOUND) or no record of the type (ENODATA) is an answer: the zone has no such record.
      if (answers.every((a) => a.error === undefined || NO_SUCH_RECORD.test(a.error)))
        return "does not exist: the switch steers an existing failover record and the runbooks never create one";
      const said = answers.map((a) => `${a.server}: ${a.error ?? "no record"}`).join("; ");
      if (acceptUnanswered) {
        ctx.log.warn(
          `preflight: the failover record is UNPROVEN (no authoritative name server answered: ${said}); going on because of --unproven-record`,
        );
        return;
      }
      return `is unproven: no authoritative name server answered within ${RECORD_QUERY_MS / 1000} s (${said}). Check the name servers in failover.nameServers; to fail over without this proof, add --unproven-record (logged)`;
    },
  );
}

/**
 * The application's connection secret parses into what the repoint step needs: a JSON object
 * (host and port are written into it, every other key kept), whose host, port and dbname, where
 * present, have the types the application reads. Its value is never shown.
 */
export function connectionSecret(ctx: Ctx, region: string, arn: string): PreflightCheck {
  return check(`connection secret ${arn}`, async () => {
    const sm = ctx.aws(SecretsManagerClient, region);
    const res = await sm.send(new DescribeSecretCommand({ SecretId: arn }));
    if (res.DeletedDate) return `is scheduled for deletion (since ${res.DeletedDate.toISOString()})`;
    const value = (await sm.send(new GetSecretValueCommand({ SecretId: arn }))).SecretString;
    return connectionSecretProblem(value);
  });
}

/** Pure: what is wrong with a connection secret's value for the repoint step (never quoting it), or undefined. */
export function connectionSecretProblem(value: string | undefined): string | undefined {
  const expected = 'expected a JSON object such as {"host": …, "port": 5432, "dbname": …} (value not shown)';
  if (value === undefined) return `has no string value (binary or empty): ${expected}`;
  let v: unknown;
  try {
    v = JSON.parse(value);
  } catch {
    return `is not JSON: ${expected}`;
  }
  if (typeof v !== "object" || v === null || Array.isArray(v))
    return `is JSON but not an object (${Array.isArray(v) ? "an array" : v === null ? "null" : typeof v}): ${expected}`;
  const o = v as Record<string, unknown>;
  const wrong = [
    o.host !== undefined && typeof o.host !== "string" && "host is not a string",
    o.port !== undefined && !Number.isInteger(Number(o.port)) && "port is not a whole number",
    o.dbname !== undefined && typeof o.dbname !== "string" && "dbname is not a string",
  ].filter(Boolean);
  if (wrong.length) return `has fields of the wrong type (${wrong.join(", ")}): ${expected}`;
}

/** A name a step hands to an AWS API, checked against that API's rules (contract/aws-names.ts). */
export function awsName(what: string, name: string, problem: (name: string) => string | undefined): PreflightCheck {
  return {
    what: `${what} ${JSON.stringify(name)}`,
    check: async () => {
      const p = problem(name);
      return p && `is not a name AWS accepts: expected ${p}`;
    },
  };
}

/** The names a restore into `stack`'s region hands to RDS as they are: the instance it creates, its database name. */
export function restoreNames(stack: StackOutputs): PreflightCheck[] {
  return [
    awsName(
      `DB instance identifier to restore (${stack.stack})`,
      stack.database.instanceIdentifier,
      rdsInstanceIdentifierProblem,
    ),
    awsName(`database name (${stack.stack})`, stack.database.dbName, rdsPostgresDbNameProblem),
  ];
}

/** The buckets a run writes to or reads from in `stack`: backups, the run journal, the outputs mirror. */
export function bucketNames(stack: StackOutputs): PreflightCheck[] {
  const buckets = new Map([
    [stack.backup.bucketName, `backup bucket (${stack.stack})`],
    [stack.runJournal.bucketName, `run-journal bucket (${stack.stack})`],
    [stack.failover.outputsMirror.bucketName, `outputs-mirror bucket (${stack.stack})`],
  ]);
  return [...buckets].map(([name, what]) => awsName(what, name, s3BucketNameProblem));
}

/** The failover switch: its alarm in the DR region (what the runbooks write and read). */
export function failoverSwitch(ctx: Ctx, sw: SwitchSpec): PreflightCheck {
  return check(`failover switch alarm ${sw.alarmName} (${sw.region})`, async () => {
    try {
      await switchAlarm(ctx.aws(CloudWatchClient, sw.region), sw);
    } catch (error) {
      if (/does not exist/.test(errorMessage(error)))
        return "does not exist: the dr stack declares it (FailoverSwitch); deploy dr before relying on it";
      throw error;
    }
  });
}

export function healthCheck(ctx: Ctx, id: string): PreflightCheck {
  return check(`Route 53 health check ${id}`, async () => {
    await ctx.aws(Route53Client, "us-east-1").send(new GetHealthCheckCommand({ HealthCheckId: id }));
  });
}

export function dbInstance(
  ctx: Ctx,
  region: string,
  id: string,
  usable: (i: DBInstance) => string | undefined = () => undefined,
): PreflightCheck {
  return check(`DB instance ${id} (${region})`, async () => {
    const i = await describeInstance(ctx.aws(RDSClient, region), id);
    if (!i) return "does not exist";
    return usable(i);
  });
}

/** Where a database is restored to in `stack`'s region: subnet group, parameter group, KMS key, connection secret. */
export function databaseLanding(ctx: Ctx, stack: StackOutputs): PreflightCheck[] {
  const db = stack.database;
  return [
    dbSubnetGroup(ctx, stack.region, db.subnetGroupName),
    dbParameterGroup(ctx, stack.region, db.parameterGroupName),
    kmsKey(ctx, stack.region, db.kmsKeyArn),
    connectionSecret(ctx, stack.region, db.appConnectionSecretArn),
  ];
}

/** The services of `stack` (all, or `only`): cluster, each service, each target group. */
export function servicesOf(
  ctx: Ctx,
  stack: StackOutputs,
  only: ServiceOutputs[] = stack.services.services,
): PreflightCheck[] {
  return [
    ecsCluster(ctx, stack.region, stack.services.clusterName),
    ...ecsServices(ctx, stack.region, stack.services.clusterName, only),
    ...only.map((s) => targetGroup(ctx, stack.region, s.targetGroupArn)),
  ];
}

/** The region that takes traffic: its database landing, services, load balancer (the alarm's) and alert topic. */
export function regionTakingTraffic(ctx: Ctx, stack: StackOutputs): PreflightCheck[] {
  return [
    ...databaseLanding(ctx, stack),
    ...servicesOf(ctx, stack),
    loadBalancer(ctx, stack.region, stack.services.loadBalancerDnsName),
    topic(ctx, stack.alerts.topicArn),
  ];
}

/**
 * region-failover: the DR region takes traffic (database landing, services, load balancer, topic),
 * the failover switch's alarm exists there, and the failover record resolves at the zone's
 * authoritative name servers (the DNS data plane, not Route 53's API). Nothing in the primary
 * region, and no global control plane, is asked: they may be down.
 */
export function regionFailoverPreflight(ctx: Ctx, options: { unprovenRecord?: boolean } = {}): PreflightCheck[] {
  requirePrimaryStack(ctx, "region-failover");
  const dns = ctx.outputs.dns;
  const dr = ctx.peer!;
  return [
    ...restoreNames(dr),
    ...bucketNames(dr),
    ...regionTakingTraffic(ctx, dr),
    failoverSwitch(ctx, ctx.outputs.failover.switch),
    failoverRecordResolves(ctx, dns, dns.primarySetIdentifier, options.unprovenRecord === true),
  ];
}

/**
 * failback: the primary region takes traffic again (database landing, services, load balancer,
 * topic), the failover record and its health check exist, and the DR database to copy is available.
 */
export function failbackPreflight(ctx: Ctx): PreflightCheck[] {
  requirePrimaryStack(ctx, "failback");
  const prod = ctx.outputs;
  const dr = ctx.peer!;
  return [
    ...bucketNames(prod),
    ...regionTakingTraffic(ctx, prod),
    failoverSwitch(ctx, prod.failover.switch),
    failoverRecord(ctx, prod.dns, prod.dns.primarySetIdentifier),
    healthCheck(ctx, prod.dns.primaryHealthCheckId),
    dbInstance(ctx, dr.region, dr.database.instanceIdentifier, (i) =>
      i.DBInstanceStatus === "available" ? undefined : `is ${i.DBInstanceStatus}, expected available (it is copied)`,
    ),
  ];
}

/** database-recovery: where the new instance lands and what is repointed (secret, services, target groups). */
export function databaseRecoveryPreflight(ctx: Ctx): PreflightCheck[] {
  return [...databaseLanding(ctx, ctx.outputs), ...servicesOf(ctx, ctx.outputs)];
}
