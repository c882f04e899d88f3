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
import { DescribeSecretCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
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
import { askAll } from "./authoritative-dns.ts";
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

export function secret(ctx: Ctx, region: string, arn: string): PreflightCheck {
  return check(`connection secret ${arn}`, async () => {
    const res = await ctx.aws(SecretsManagerClient, region).send(new DescribeSecretCommand({ SecretId: arn }));
    if (res.DeletedDate) return `is scheduled for deletion (since ${res.DeletedDate.toISOString()})`;
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

/**
 * The same record, asked of the zone's authoritative name servers (Route 53's data plane, which
 * answers when its API and the primary region do not): region-failover's way of checking it.
 * A record no server knows is a gap; servers that do not answer in time are reported, not held
 * against the run.
 */
export function failoverRecordResolves(ctx: Ctx, dns: StackOutputs["dns"], setIdentifier: string): PreflightCheck {
  return check(
    `${dns.recordType} record ${dns.recordName} (set ${setIdentifier}) in hosted zone ${dns.hostedZoneId}`,
    async () => {
      const servers = ctx.outputs.failover.nameServers;
      if (servers.length === 0) {
        ctx.log.warn("preflight: the failover record was not checked (the outputs name no authoritative name server)");
        return;
      }
      const answers = await askAll(servers, dns.recordName, 3000);
      if (answers.some((a) => a.answer !== null)) return;
      // NXDOMAIN (ENOTFOUND) or no CNAME (ENODATA) is an answer: the zone has no such record.
      if (answers.every((a) => a.error === undefined || /ENOTFOUND|ENODATA|no CNAME/.test(a.error)))
        return "does not exist: the switch steers an existing failover record and the runbooks never create one";
      ctx.log.warn(
        `preflight: the failover record was not checked (${answers.map((a) => a.error ?? `${a.server}: no record`).join("; ")})`,
      );
    },
  );
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
    secret(ctx, stack.region, db.appConnectionSecretArn),
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
export function regionFailoverPreflight(ctx: Ctx): PreflightCheck[] {
  requirePrimaryStack(ctx, "region-failover");
  const dns = ctx.outputs.dns;
  return [
    ...regionTakingTraffic(ctx, ctx.peer!),
    failoverSwitch(ctx, ctx.outputs.failover.switch),
    failoverRecordResolves(ctx, dns, dns.primarySetIdentifier),
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
