/**
 * Every resource of every service the runbooks touch, in both regions, as plain data, for
 * "nothing changed" assertions that do not depend on what one runbook might touch: RDS
 * (instances with their groups and tags, snapshots, subnet and parameter groups), ECS (clusters,
 * services and their counts and deployments), ELBv2 (load balancers, target groups), CloudWatch
 * (alarms and their state), Route 53 (zones, record sets, health checks), Secrets Manager (every
 * secret's value), S3 (every bucket and every object version), KMS (keys and their state), SNS
 * (topics, subscriptions). (moto's own dump, /moto-api/data.json, answers 500 for these models.)
 */
import { CloudWatchClient, DescribeAlarmsCommand } from "@aws-sdk/client-cloudwatch";
import {
  DescribeClustersCommand,
  DescribeServicesCommand,
  ECSClient,
  ListClustersCommand,
  ListServicesCommand,
} from "@aws-sdk/client-ecs";
import {
  DescribeLoadBalancersCommand,
  DescribeTargetGroupsCommand,
  ElasticLoadBalancingV2Client,
} from "@aws-sdk/client-elastic-load-balancing-v2";
import { DescribeKeyCommand, KMSClient, ListKeysCommand } from "@aws-sdk/client-kms";
import {
  DescribeDBInstancesCommand,
  DescribeDBParameterGroupsCommand,
  DescribeDBSnapshotsCommand,
  DescribeDBSubnetGroupsCommand,
  RDSClient,
} from "@aws-sdk/client-rds";
import {
  ListHealthChecksCommand,
  ListHostedZonesCommand,
  ListResourceRecordSetsCommand,
  Route53Client,
} from "@aws-sdk/client-route-53";
import { ListBucketsCommand, ListObjectVersionsCommand, S3Client } from "@aws-sdk/client-s3";
import { GetSecretValueCommand, ListSecretsCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { ListSubscriptionsCommand, ListTopicsCommand, SNSClient } from "@aws-sdk/client-sns";

const REGIONS = ["us-east-1", "us-west-2"];

/** The emulator's state, region by region and service by service. */
export async function emulatorDump(endpoint: string): Promise<Record<string, unknown>> {
  const cfg = (region: string) => ({ region, endpoint, maxAttempts: 1, forcePathStyle: true });
  const out: Record<string, unknown> = {};
  for (const region of REGIONS) {
    const rds = new RDSClient(cfg(region));
    out[`${region} rds instances`] = ((await rds.send(new DescribeDBInstancesCommand({}))).DBInstances ?? []).map(
      (i) => ({
        id: i.DBInstanceIdentifier,
        status: i.DBInstanceStatus,
        groups: (i.VpcSecurityGroups ?? []).map((g) => g.VpcSecurityGroupId),
        tags: i.TagList,
      }),
    );
    out[`${region} rds snapshots`] = ((await rds.send(new DescribeDBSnapshotsCommand({}))).DBSnapshots ?? []).map(
      (s) => `${s.DBSnapshotIdentifier}:${s.Status}`,
    );
    out[`${region} rds subnet groups`] = (
      (await rds.send(new DescribeDBSubnetGroupsCommand({}))).DBSubnetGroups ?? []
    ).map((g) => g.DBSubnetGroupName);
    out[`${region} rds parameter groups`] = (
      (await rds.send(new DescribeDBParameterGroupsCommand({}))).DBParameterGroups ?? []
    ).map((g) => g.DBParameterGroupName);
    const ecs = new ECSClient(cfg(region));
    const clusters = (await ecs.send(new ListClustersCommand({}))).clusterArns ?? [];
    out[`${region} ecs clusters`] = ((await ecs.send(new DescribeClustersCommand({ clusters }))).clusters ?? []).map(
      (c) => `${c.clusterName}:${c.status}`,
    );
    for (const cluster of clusters) {
      const arns = (await ecs.send(new ListServicesCommand({ cluster }))).serviceArns ?? [];
      out[`${region} ecs services ${cluster}`] = arns.length
        ? ((await ecs.send(new DescribeServicesCommand({ cluster, services: arns }))).services ?? []).map((s) => ({
            name: s.serviceName,
            status: s.status,
            desired: s.desiredCount,
            taskDefinition: s.taskDefinition,
            deployments: s.deployments?.length ?? 0,
          }))
        : [];
    }
    const elb = new ElasticLoadBalancingV2Client(cfg(region));
    out[`${region} load balancers`] = ((await elb.send(new DescribeLoadBalancersCommand({}))).LoadBalancers ?? []).map(
      (l) => l.DNSName,
    );
    out[`${region} target groups`] = ((await elb.send(new DescribeTargetGroupsCommand({}))).TargetGroups ?? []).map(
      (g) => g.TargetGroupArn,
    );
    out[`${region} alarms`] = (
      (await new CloudWatchClient(cfg(region)).send(new DescribeAlarmsCommand({}))).MetricAlarms ?? []
    ).map((a) => `${a.AlarmName}:${a.StateValue}:${a.ActionsEnabled}`);
    const sm = new SecretsManagerClient(cfg(region));
    const secrets = (await sm.send(new ListSecretsCommand({}))).SecretList ?? [];
    out[`${region} secrets`] = await Promise.all(
      secrets.map(async (s) => ({
        name: s.Name,
        deleted: s.DeletedDate !== undefined,
        value: await sm.send(new GetSecretValueCommand({ SecretId: s.ARN! })).then(
          (v) => v.SecretString ?? null,
          (e: Error) => e.name,
        ),
      })),
    );
    const kms = new KMSClient(cfg(region));
    const keys = (await kms.send(new ListKeysCommand({}))).Keys ?? [];
    out[`${region} kms keys`] = await Promise.all(
      keys.map(async (k) => (await kms.send(new DescribeKeyCommand({ KeyId: k.KeyId! }))).KeyMetadata?.KeyState),
    );
    const sns = new SNSClient(cfg(region));
    out[`${region} topics`] = ((await sns.send(new ListTopicsCommand({}))).Topics ?? []).map((x) => x.TopicArn);
    out[`${region} subscriptions`] = ((await sns.send(new ListSubscriptionsCommand({}))).Subscriptions ?? []).map(
      (x) => `${x.TopicArn}:${x.Endpoint}`,
    );
  }
  const s3 = new S3Client(cfg("us-east-1"));
  for (const b of (await s3.send(new ListBucketsCommand({}))).Buckets ?? []) {
    const listed = await s3.send(new ListObjectVersionsCommand({ Bucket: b.Name! })).catch(() => undefined);
    out[`s3 ${b.Name}`] = [
      ...(listed?.Versions ?? []).map((v) => `${v.Key}@${v.VersionId}:${v.ETag}`),
      ...(listed?.DeleteMarkers ?? []).map((d) => `${d.Key}@${d.VersionId}:deleted`),
    ];
  }
  const r53 = new Route53Client(cfg("us-east-1"));
  for (const z of (await r53.send(new ListHostedZonesCommand({}))).HostedZones ?? [])
    out[`route53 ${z.Name}`] = (
      await r53.send(new ListResourceRecordSetsCommand({ HostedZoneId: z.Id! }))
    ).ResourceRecordSets;
  out["route53 health checks"] = ((await r53.send(new ListHealthChecksCommand({}))).HealthChecks ?? []).map((h) => ({
    id: h.Id,
    config: h.HealthCheckConfig,
  }));
  return out;
}
