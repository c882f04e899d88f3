/**
 * Seeds a moto server with what the `prod` and `dr` stacks would have made, and returns their
 * outputs in the shape of contract/stack-outputs.ts (validated with parseStackOutputs).
 *
 * prod (us-east-1): VPC, subnets, security group, KMS key, DB subnet/parameter groups, the
 * PostgreSQL instance with automated backups, a snapshot copied to us-west-2, the app's
 * connection secret, SNS topic, ALB + target groups with targets, ECS cluster + backend (3) and
 * frontend (2) services. dr (us-west-2): the same network, keys, groups, secret, topic, ALB and
 * services scaled to 0 (pilot light), no database. Route 53: zone, health check on the primary
 * ALB (pages only), PRIMARY/SECONDARY failover CNAMEs, the PRIMARY one carrying the failover
 * switch's health check; the switch, alarms, vault, fence and outputs mirror (aws-seed-failover.ts).
 */
import {
  CreateDBInstanceCommand,
  CreateDBParameterGroupCommand,
  CreateDBSnapshotCommand,
  CopyDBSnapshotCommand,
  CreateDBSubnetGroupCommand,
  RDSClient,
} from "@aws-sdk/client-rds";
import { CreateKeyCommand, KMSClient } from "@aws-sdk/client-kms";
import { CreateSecretCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { CreateTopicCommand, SNSClient, SubscribeCommand } from "@aws-sdk/client-sns";
import {
  CreateLoadBalancerCommand,
  CreateTargetGroupCommand,
  ElasticLoadBalancingV2Client,
  RegisterTargetsCommand,
} from "@aws-sdk/client-elastic-load-balancing-v2";
import {
  CreateClusterCommand,
  CreateServiceCommand,
  ECSClient,
  RegisterTaskDefinitionCommand,
  UpdateServiceCommand,
} from "@aws-sdk/client-ecs";
import {
  ChangeResourceRecordSetsCommand,
  CreateHealthCheckCommand,
  CreateHostedZoneCommand,
  Route53Client,
} from "@aws-sdk/client-route-53";
import {
  CreateBucketCommand,
  PutBucketLifecycleConfigurationCommand,
  PutBucketVersioningCommand,
} from "@aws-sdk/client-s3";
import { RUN_JOURNAL_NONCURRENT, RUN_JOURNAL_PREFIX } from "../../contract/backup-prefixes.ts";
import { FENCE_TAG } from "../../contract/fence-record.ts";
import { parseStackOutputs, type StackOutputs } from "../../contract/stack-outputs.ts";
import { BackupS3Client } from "../../runbooks/aws/s3-object.ts";
import { buildOutputs, RUN_JOURNAL_BUCKET } from "./seeded-outputs.ts";
import { mirrorOutputs, seedFailover, type FailoverSeedOptions } from "./aws-seed-failover.ts";

export const PRIMARY_REGION = "us-east-1";
export const DR_REGION = "us-west-2";
export const SOURCE_DB = "eventchain-prod-db";
export const DR_DB = "eventchain-dr-db";

const cfg = (endpoint: string, region: string) => ({ endpoint, region, maxAttempts: 1 });

/** EC2 has no SDK client in this project; moto accepts plain query requests. */
async function ec2(endpoint: string, region: string, params: Record<string, string>): Promise<string> {
  const body = new URLSearchParams({ Version: "2016-11-15", ...params });
  const res = await fetch(endpoint, {
    method: "POST",
    headers: {
      "content-type": "application/x-www-form-urlencoded",
      authorization: `AWS4-HMAC-SHA256 Credential=testing/20260101/${region}/ec2/aws4_request, SignedHeaders=host, Signature=0`,
    },
    body,
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`ec2 ${params.Action} failed: HTTP ${res.status} ${text.slice(0, 300)}`);
  return text;
}
const tag = (xml: string, name: string) => {
  const m = new RegExp(`<${name}>([^<]+)</${name}>`).exec(xml);
  if (!m) throw new Error(`no <${name}> in ${xml.slice(0, 200)}`);
  return m[1]!;
};

interface RegionSeed {
  vpcId: string;
  subnetIds: string[];
  securityGroupId: string;
  kmsKeyArn: string;
  subnetGroupName: string;
  parameterGroupName: string;
  secretArn: string;
  topicArn: string;
  albDns: string;
  clusterName: string;
  services: { name: string; recoveryCount: number; targetGroupArn: string }[];
}

// Long on purpose: one create call per resource a region holds, in the order they depend on each other.
async function seedRegion(endpoint: string, region: string, stack: "prod" | "dr"): Promise<RegionSeed> {
  const vpc = tag(await ec2(endpoint, region, { Action: "CreateVpc", CidrBlock: "10.0.0.0/16" }), "vpcId");
  const subnetIds: string[] = [];
  for (const [i, az] of ["a", "b"].entries()) {
    subnetIds.push(
      tag(
        await ec2(endpoint, region, {
          Action: "CreateSubnet",
          VpcId: vpc,
          CidrBlock: `10.0.${i}.0/24`,
          AvailabilityZone: `${region}${az}`,
        }),
        "subnetId",
      ),
    );
  }
  const securityGroupId = tag(
    await ec2(endpoint, region, {
      Action: "CreateSecurityGroup",
      GroupName: `eventchain-${stack}-db`,
      GroupDescription: "database",
      VpcId: vpc,
    }),
    "groupId",
  );

  const kms = new KMSClient(cfg(endpoint, region));
  const key = await kms.send(new CreateKeyCommand({ Description: `eventchain ${stack} data`, MultiRegion: false }));
  const kmsKeyArn = key.KeyMetadata!.Arn!;

  const rds = new RDSClient(cfg(endpoint, region));
  const subnetGroupName = `eventchain-${stack}-db`;
  await rds.send(
    new CreateDBSubnetGroupCommand({
      DBSubnetGroupName: subnetGroupName,
      DBSubnetGroupDescription: "database subnets",
      SubnetIds: subnetIds,
    }),
  );
  const parameterGroupName = `eventchain-${stack}-pg15`;
  await rds.send(
    new CreateDBParameterGroupCommand({
      DBParameterGroupName: parameterGroupName,
      DBParameterGroupFamily: "postgres15",
      Description: "eventchain",
    }),
  );

  const sm = new SecretsManagerClient(cfg(endpoint, region));
  const secret = await sm.send(
    new CreateSecretCommand({
      Name: `eventchain/${stack}/db-connection`,
      KmsKeyId: kmsKeyArn,
      SecretString: JSON.stringify({ host: stack === "prod" ? "placeholder" : "", port: 5432, dbname: "eventchain" }),
    }),
  );

  const sns = new SNSClient(cfg(endpoint, region));
  const topic = await sns.send(new CreateTopicCommand({ Name: `eventchain-${stack}-alerts` }));
  await sns.send(
    new SubscribeCommand({ TopicArn: topic.TopicArn!, Protocol: "email", Endpoint: "oncall@example.com" }),
  );

  const elb = new ElasticLoadBalancingV2Client(cfg(endpoint, region));
  const lb = await elb.send(
    new CreateLoadBalancerCommand({
      Name: `eventchain-${stack}-alb`,
      Subnets: subnetIds,
      SecurityGroups: [securityGroupId],
      Scheme: "internet-facing",
      Type: "application",
    }),
  );
  const albDns = lb.LoadBalancers![0]!.DNSName!;

  const ecs = new ECSClient(cfg(endpoint, region));
  const clusterName = `eventchain-${stack}`;
  await ecs.send(new CreateClusterCommand({ clusterName }));
  const services: RegionSeed["services"] = [];
  for (const [i, [role, count]] of (
    [
      ["backend", 3],
      ["frontend", 2],
    ] as const
  ).entries()) {
    const tg = await elb.send(
      new CreateTargetGroupCommand({
        Name: `${stack}-${role}`,
        Protocol: "HTTP",
        Port: 8080,
        VpcId: vpc,
        TargetType: "ip",
        HealthCheckPath: "/health",
      }),
    );
    const targetGroupArn = tg.TargetGroups![0]!.TargetGroupArn!;
    await elb.send(
      new RegisterTargetsCommand({ TargetGroupArn: targetGroupArn, Targets: [{ Id: `10.0.${i}.10`, Port: 8080 }] }),
    );
    const td = await ecs.send(
      new RegisterTaskDefinitionCommand({
        family: `eventchain-${role}`,
        networkMode: "awsvpc",
        requiresCompatibilities: ["FARGATE"],
        cpu: "256",
        memory: "512",
        containerDefinitions: [
          { name: role, image: `eventchain/${role}:1.0.0`, portMappings: [{ containerPort: 8080 }] },
        ],
      }),
    );
    const name = `eventchain-${role}-${stack}`;
    await ecs.send(
      new CreateServiceCommand({
        cluster: clusterName,
        serviceName: name,
        taskDefinition: td.taskDefinition!.taskDefinitionArn!,
        desiredCount: stack === "prod" ? count : 0,
        launchType: "FARGATE",
        networkConfiguration: {
          awsvpcConfiguration: { subnets: subnetIds, securityGroups: [securityGroupId], assignPublicIp: "DISABLED" },
        },
        loadBalancers: [{ targetGroupArn, containerName: role, containerPort: 8080 }],
      }),
    );
    // moto reports runningCount 0 until the service is updated once: settle it, as a running stack would be.
    if (stack === "prod")
      await ecs.send(new UpdateServiceCommand({ cluster: clusterName, service: name, desiredCount: count }));
    services.push({ name, recoveryCount: count, targetGroupArn });
  }
  return {
    vpcId: vpc,
    subnetIds,
    securityGroupId,
    kmsKeyArn,
    subnetGroupName,
    parameterGroupName,
    secretArn: secret.ARN!,
    topicArn: topic.TopicArn!,
    albDns,
    clusterName,
    services,
  };
}

export interface Seeded {
  prod: StackOutputs;
  dr: StackOutputs;
  /** `{ prod, dr }`: the `--outputs` file content. */
  file: Record<string, StackOutputs>;
  /** Identifier of the snapshot copied into the DR region. */
  drSnapshotId: string | undefined;
}

export interface SeedOptions {
  /** Copy a snapshot of the primary database into the DR region (default true). */
  copySnapshotToDr?: boolean;
  /** Name servers and detection time recorded for the failover switch. */
  failover?: FailoverSeedOptions;
  /** TTL of the failover records (default 60). */
  ttl?: number;
  /** Create the DR backup bucket (versioned, Object Lock) that holds run locks and shared journals (default true). */
  runJournalBucket?: boolean;
}

/** The DR backup bucket as the dr stack makes it: versioned, Object Lock with default retention. */
/** The run journal bucket as infra/components/run-journal-bucket.ts declares it: versioned, no Object Lock, replaced versions expire. */
async function seedRunJournalBucket(endpoint: string): Promise<void> {
  const s3 = new BackupS3Client(cfg(endpoint, DR_REGION));
  await s3.send(
    new CreateBucketCommand({
      Bucket: RUN_JOURNAL_BUCKET,
      CreateBucketConfiguration: { LocationConstraint: DR_REGION },
    }),
  );
  await s3.send(
    new PutBucketVersioningCommand({ Bucket: RUN_JOURNAL_BUCKET, VersioningConfiguration: { Status: "Enabled" } }),
  );
  await s3.send(
    new PutBucketLifecycleConfigurationCommand({
      Bucket: RUN_JOURNAL_BUCKET,
      LifecycleConfiguration: {
        Rules: [
          {
            ID: "expire-replaced-journal-and-lock-versions",
            Status: "Enabled",
            Filter: { Prefix: RUN_JOURNAL_PREFIX },
            NoncurrentVersionExpiration: {
              NoncurrentDays: RUN_JOURNAL_NONCURRENT.days,
              NewerNoncurrentVersions: RUN_JOURNAL_NONCURRENT.keepNewer,
            },
            Expiration: { ExpiredObjectDeleteMarker: true },
            AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 },
          },
        ],
      },
    }),
  );
}

// Long on purpose: one create call per resource the two stacks declare, in the order they depend on each other.
export async function seedStacks(endpoint: string, options: SeedOptions = {}): Promise<Seeded> {
  const [p, d] = await Promise.all([
    seedRegion(endpoint, PRIMARY_REGION, "prod"),
    seedRegion(endpoint, DR_REGION, "dr"),
    options.runJournalBucket === false ? undefined : seedRunJournalBucket(endpoint),
  ]);
  const rds = new RDSClient(cfg(endpoint, PRIMARY_REGION));
  const created = await rds.send(
    new CreateDBInstanceCommand({
      DBInstanceIdentifier: SOURCE_DB,
      DBInstanceClass: "db.r6g.large",
      Engine: "postgres",
      EngineVersion: "15.7",
      DBName: "eventchain",
      MasterUsername: "eventchain_admin",
      ManageMasterUserPassword: true,
      AllocatedStorage: 100,
      StorageEncrypted: true,
      KmsKeyId: p.kmsKeyArn,
      MultiAZ: true,
      PubliclyAccessible: false,
      BackupRetentionPeriod: 7,
      DeletionProtection: true,
      DBSubnetGroupName: p.subnetGroupName,
      VpcSecurityGroupIds: [p.securityGroupId],
      DBParameterGroupName: p.parameterGroupName,
    }),
  );
  const db = created.DBInstance!;

  let drSnapshotId: string | undefined;
  if (options.copySnapshotToDr !== false) {
    const snap = await rds.send(
      new CreateDBSnapshotCommand({ DBInstanceIdentifier: SOURCE_DB, DBSnapshotIdentifier: `${SOURCE_DB}-daily-1` }),
    );
    const drRds = new RDSClient(cfg(endpoint, DR_REGION));
    drSnapshotId = `${SOURCE_DB}-daily-1-copy`;
    await drRds.send(
      new CopyDBSnapshotCommand({
        SourceDBSnapshotIdentifier: snap.DBSnapshot!.DBSnapshotArn!,
        TargetDBSnapshotIdentifier: drSnapshotId,
        KmsKeyId: d.kmsKeyArn,
        CopyTags: true,
      }),
    );
  }

  const r53 = new Route53Client(cfg(endpoint, PRIMARY_REGION));
  const zone = await r53.send(
    new CreateHostedZoneCommand({ Name: "eventchain.com", CallerReference: `seed-${Date.now()}` }),
  );
  const hostedZoneId = zone.HostedZone!.Id!.replace("/hostedzone/", "");
  const hc = await r53.send(
    new CreateHealthCheckCommand({
      CallerReference: `hc-${Date.now()}`,
      HealthCheckConfig: {
        Type: "HTTPS",
        FullyQualifiedDomainName: p.albDns,
        ResourcePath: "/health",
        Port: 443,
        RequestInterval: 30,
        FailureThreshold: 3,
      },
    }),
  );
  const primaryHealthCheckId = hc.HealthCheck!.Id!;
  const facts = (r: RegionSeed, region: string, stack: "prod" | "dr") => ({
    region,
    stack,
    topicArn: r.topicArn,
    albDns: r.albDns,
    vpcId: r.vpcId,
    kmsKeyArn: r.kmsKeyArn,
  });
  const failover = await seedFailover(
    endpoint,
    facts(p, PRIMARY_REGION, "prod"),
    facts(d, DR_REGION, "dr"),
    "api.eventchain.com",
    options.failover,
  );
  const ttl = options.ttl ?? 60;
  await r53.send(
    new ChangeResourceRecordSetsCommand({
      HostedZoneId: hostedZoneId,
      ChangeBatch: {
        Changes: [
          {
            Action: "CREATE",
            ResourceRecordSet: {
              Name: "api.eventchain.com",
              Type: "CNAME",
              SetIdentifier: "primary",
              Failover: "PRIMARY",
              TTL: ttl,
              // The failover switch: the endpoint health check pages and moves no traffic.
              HealthCheckId: failover.switchHealthCheckId,
              ResourceRecords: [{ Value: p.albDns }],
            },
          },
          {
            Action: "CREATE",
            ResourceRecordSet: {
              Name: "api.eventchain.com",
              Type: "CNAME",
              SetIdentifier: "secondary",
              Failover: "SECONDARY",
              TTL: ttl,
              ResourceRecords: [{ Value: d.albDns }],
            },
          },
        ],
      },
    }),
  );

  const common = { hostedZoneId, primaryHealthCheckId, primaryTarget: p.albDns, secondaryTarget: d.albDns, ttl };
  const prod = parseStackOutputs(
    buildOutputs({
      stack: "prod",
      region: PRIMARY_REGION,
      instanceIdentifier: SOURCE_DB,
      instanceArn: db.DBInstanceArn ?? null,
      resourceId: db.DbiResourceId ?? null,
      address: db.Endpoint?.Address ?? null,
      subnetGroupName: p.subnetGroupName,
      securityGroupIds: [p.securityGroupId],
      parameterGroupName: p.parameterGroupName,
      kmsKeyArn: p.kmsKeyArn,
      appConnectionSecretArn: p.secretArn,
      replicatedBackupsArn: `arn:aws:rds:${DR_REGION}:123456789012:auto-backup:ab-seeded${Date.now()}`,
      clusterName: p.clusterName,
      loadBalancerDnsName: p.albDns,
      services: p.services,
      topicArn: p.topicArn,
      failover: failover.outputs("prod"),
      ...common,
    }),
    "seed (prod)",
  );
  const dr = parseStackOutputs(
    buildOutputs({
      stack: "dr",
      region: DR_REGION,
      instanceIdentifier: DR_DB,
      instanceArn: null,
      resourceId: null,
      address: null,
      subnetGroupName: d.subnetGroupName,
      securityGroupIds: [d.securityGroupId],
      parameterGroupName: d.parameterGroupName,
      kmsKeyArn: d.kmsKeyArn,
      appConnectionSecretArn: d.secretArn,
      replicatedBackupsArn: null,
      clusterName: d.clusterName,
      loadBalancerDnsName: d.albDns,
      services: d.services,
      topicArn: d.topicArn,
      failover: failover.outputs("dr"),
      ...common,
    }),
    "seed (dr)",
  );
  await mirrorOutputs(endpoint, [prod, dr]);
  return { prod, dr, file: { prod, dr }, drSnapshotId };
}

/** Everything a runbook could change, as plain data: compare before/after to prove "nothing changed". */
export async function awsState(endpoint: string, seeded: Seeded): Promise<Record<string, unknown>> {
  const { DescribeDBInstancesCommand, DescribeDBSnapshotsCommand } = await import("@aws-sdk/client-rds");
  const { DescribeServicesCommand } = await import("@aws-sdk/client-ecs");
  const { ListResourceRecordSetsCommand } = await import("@aws-sdk/client-route-53");
  const { CloudWatchClient, DescribeAlarmsCommand } = await import("@aws-sdk/client-cloudwatch");
  const { GetSecretValueCommand } = await import("@aws-sdk/client-secrets-manager");
  const state: Record<string, unknown> = {};
  for (const [stack, region] of [
    ["prod", PRIMARY_REGION],
    ["dr", DR_REGION],
  ] as const) {
    const out = seeded[stack];
    const rds = new RDSClient(cfg(endpoint, region));
    state[`${stack}.instances`] = ((await rds.send(new DescribeDBInstancesCommand({}))).DBInstances ?? [])
      .map(
        (i) =>
          `${i.DBInstanceIdentifier}:${i.DBInstanceStatus}:${(i.VpcSecurityGroups ?? []).map((g) => g.VpcSecurityGroupId).join(",")}:${(i.TagList ?? []).some((tag) => tag.Key === FENCE_TAG.by) ? "fence recorded" : "no fence record"}`,
      )
      .sort();
    state[`${stack}.snapshots`] = ((await rds.send(new DescribeDBSnapshotsCommand({}))).DBSnapshots ?? [])
      .map((s) => s.DBSnapshotIdentifier)
      .sort();
    const ecs = new ECSClient(cfg(endpoint, region));
    state[`${stack}.services`] = (
      (
        await ecs.send(
          new DescribeServicesCommand({
            cluster: out.services.clusterName,
            services: out.services.services.map((s) => s.name),
          }),
        )
      ).services ?? []
    ).map((s) => `${s.serviceName}:${s.desiredCount}:${s.runningCount}:${s.deployments?.length ?? 0}`);
    state[`${stack}.alarms`] = (
      (await new CloudWatchClient(cfg(endpoint, region)).send(new DescribeAlarmsCommand({}))).MetricAlarms ?? []
    )
      .map((a) => `${a.AlarmName}:${a.StateValue}:${a.ActionsEnabled}`)
      .sort();
    // A secret that is deleted, scheduled for deletion or under a disabled key reads as the reason.
    state[`${stack}.secret`] = await new SecretsManagerClient(cfg(endpoint, region))
      .send(new GetSecretValueCommand({ SecretId: out.database.appConnectionSecretArn }))
      .then(
        (r) => r.SecretString,
        (e: Error) => `unreadable: ${e.name}`,
      );
  }
  const r53 = new Route53Client(cfg(endpoint, PRIMARY_REGION));
  state.records = (
    (await r53.send(new ListResourceRecordSetsCommand({ HostedZoneId: seeded.prod.dns.hostedZoneId })))
      .ResourceRecordSets ?? []
  ).map((r) => `${r.Name}:${r.SetIdentifier ?? ""}:${r.ResourceRecords?.[0]?.Value ?? ""}:${r.HealthCheckId ?? ""}`);
  return state;
}
