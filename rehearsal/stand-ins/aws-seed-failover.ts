/**
 * The failover part of what both stacks would have made in the emulator, with the definitions the
 * Pulumi components use (one source): the latched switch (alarm in the DR region + CLOUDWATCH_METRIC
 * health check), both regions' error-rate alarms, the DR backup vault, the primary database's
 * fence group, and the outputs mirror bucket (objects written by `mirrorOutputs`, as `pulumi up`
 * does). Called by `seedStacks`.
 */
import { BackupClient, CreateBackupVaultCommand } from "@aws-sdk/client-backup";
import { CloudWatchClient, PutMetricAlarmCommand } from "@aws-sdk/client-cloudwatch";
import { CreateHealthCheckCommand, Route53Client, type CloudWatchRegion } from "@aws-sdk/client-route-53";
import {
  CreateBucketCommand,
  PutBucketEncryptionCommand,
  PutBucketVersioningCommand,
  PutObjectCommand,
} from "@aws-sdk/client-s3";
import { GetCallerIdentityCommand, STSClient } from "@aws-sdk/client-sts";
import { OUTPUTS_MIRROR, type StackOutputs } from "../../contract/stack-outputs.ts";
import {
  SWITCH_ALARM_NAME,
  SWITCH_DETECTION_SECONDS,
  SWITCH_EVALUATION_PERIODS,
  SWITCH_PERIOD_SECONDS,
  SWITCH_THRESHOLD,
  SWITCH_METRIC,
} from "../../contract/switch.ts";
import { BackupS3Client } from "../../runbooks/aws/s3-object.ts";

const cfg = (endpoint: string, region: string) => ({ endpoint, region, maxAttempts: 1 });

export interface FailoverSeedOptions {
  /** Authoritative name servers to record (a test's loopback DNS server). Default: none. */
  nameServers?: string[];
  /** The switch's detection time to record; tests shorten it. Default: the component's. */
  detectionSeconds?: number;
}

export interface RegionFacts {
  region: string;
  stack: "prod" | "dr";
  topicArn: string;
  albDns: string;
  vpcId: string;
  kmsKeyArn: string;
}

const SWITCH_ALARM = SWITCH_ALARM_NAME;
export const errorRateAlarmName = (stack: string) => `EventChain-${stack}-HighErrorRate`;

async function ec2(endpoint: string, region: string, params: Record<string, string>): Promise<string> {
  const res = await fetch(endpoint, {
    method: "POST",
    headers: {
      "content-type": "application/x-www-form-urlencoded",
      authorization: `AWS4-HMAC-SHA256 Credential=testing/20260101/${region}/ec2/aws4_request, SignedHeaders=host, Signature=0`,
    },
    body: new URLSearchParams({ Version: "2016-11-15", ...params }),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`ec2 ${params.Action} failed: HTTP ${res.status} ${text.slice(0, 300)}`);
  return /<groupId>([^<]+)<\/groupId>/.exec(text)?.[1] ?? "";
}

/** The error-rate alarm as `ErrorRateAlarm` declares it (moto takes it without the metric math's data). */
export async function errorRateAlarm(
  endpoint: string,
  r: Pick<RegionFacts, "region" | "stack" | "topicArn">,
  actionsEnabled = true,
) {
  const lb = { Name: "LoadBalancer", Value: `app/eventchain-${r.stack}-alb/seeded` };
  const metric = (Id: string, MetricName: string) => ({
    Id,
    ReturnData: false,
    MetricStat: {
      Metric: { Namespace: "AWS/ApplicationELB", MetricName, Dimensions: [lb] },
      Period: 300,
      Stat: "Sum",
    },
  });
  await new CloudWatchClient(cfg(endpoint, r.region)).send(
    new PutMetricAlarmCommand({
      AlarmName: errorRateAlarmName(r.stack),
      ComparisonOperator: "GreaterThanThreshold",
      Threshold: 5,
      EvaluationPeriods: 2,
      TreatMissingData: "notBreaching",
      ActionsEnabled: actionsEnabled,
      AlarmActions: [r.topicArn],
      Metrics: [
        metric("errors", "HTTPCode_Target_5XX_Count"),
        metric("requests", "RequestCount"),
        { Id: "errorRate", Expression: "100 * errors / requests", Label: "ErrorRate", ReturnData: true },
      ],
    }),
  );
}

export interface FailoverSeed {
  switchHealthCheckId: string;
  outputs: (stack: "prod" | "dr") => StackOutputs["failover"];
}

export async function seedFailover(
  endpoint: string,
  prod: RegionFacts,
  dr: RegionFacts,
  recordName: string,
  options: FailoverSeedOptions = {},
): Promise<FailoverSeed> {
  const dimensions = [{ name: "Record", value: recordName }];
  await new CloudWatchClient(cfg(endpoint, dr.region)).send(
    new PutMetricAlarmCommand({
      AlarmName: SWITCH_ALARM,
      Namespace: SWITCH_METRIC.namespace,
      MetricName: SWITCH_METRIC.metricName,
      Dimensions: dimensions.map((d) => ({ Name: d.name, Value: d.value })),
      Statistic: "Maximum",
      Period: SWITCH_PERIOD_SECONDS,
      EvaluationPeriods: SWITCH_EVALUATION_PERIODS,
      Threshold: SWITCH_THRESHOLD,
      ComparisonOperator: "GreaterThanOrEqualToThreshold",
      TreatMissingData: "ignore",
      ActionsEnabled: true,
      AlarmActions: [dr.topicArn],
      OKActions: [dr.topicArn],
    }),
  );
  const hc = await new Route53Client(cfg(endpoint, "us-east-1")).send(
    new CreateHealthCheckCommand({
      CallerReference: `switch-${Date.now()}-${Math.random()}`,
      HealthCheckConfig: {
        Type: "CLOUDWATCH_METRIC",
        AlarmIdentifier: { Region: dr.region as CloudWatchRegion, Name: SWITCH_ALARM },
        InsufficientDataHealthStatus: "LastKnownStatus",
      },
    }),
  );
  await Promise.all([errorRateAlarm(endpoint, prod), errorRateAlarm(endpoint, dr)]);
  await new BackupClient(cfg(endpoint, dr.region)).send(
    new CreateBackupVaultCommand({ BackupVaultName: `eventchain-${dr.stack}` }),
  );
  const fence = await ec2(endpoint, prod.region, {
    Action: "CreateSecurityGroup",
    GroupName: "eventchain-primary-fence",
    GroupDescription: "Fence: admits nothing",
    VpcId: prod.vpcId,
  });
  const account = (await new STSClient(cfg(endpoint, dr.region)).send(new GetCallerIdentityCommand({}))).Account!;
  const bucketName = OUTPUTS_MIRROR.bucketName(account, dr.region);
  const s3 = new BackupS3Client(cfg(endpoint, dr.region));
  await s3.send(
    new CreateBucketCommand({ Bucket: bucketName, CreateBucketConfiguration: { LocationConstraint: "us-west-2" } }),
  );
  await s3.send(new PutBucketVersioningCommand({ Bucket: bucketName, VersioningConfiguration: { Status: "Enabled" } }));
  await s3.send(
    new PutBucketEncryptionCommand({
      Bucket: bucketName,
      ServerSideEncryptionConfiguration: {
        Rules: [{ ApplyServerSideEncryptionByDefault: { SSEAlgorithm: "aws:kms", KMSMasterKeyID: dr.kmsKeyArn } }],
      },
    }),
  );
  const switchHealthCheckId = hc.HealthCheck!.Id!;
  return {
    switchHealthCheckId,
    outputs: (stack) => ({
      mode: "switch",
      switch: {
        healthCheckId: switchHealthCheckId,
        alarmName: SWITCH_ALARM,
        region: dr.region,
        namespace: SWITCH_METRIC.namespace,
        metricName: SWITCH_METRIC.metricName,
        dimensions,
        threshold: SWITCH_THRESHOLD,
        detectionSeconds: options.detectionSeconds ?? SWITCH_DETECTION_SECONDS,
      },
      nameServers: options.nameServers ?? [],
      fenceSecurityGroupIds: stack === "prod" ? [fence] : [],
      outputsMirror: { bucketName, region: dr.region, kmsKeyArn: dr.kmsKeyArn },
    }),
  };
}

/** Writes the stacks' outputs into the DR-region mirror, as every `pulumi up` does (`MirroredOutputs`). */
export async function mirrorOutputs(endpoint: string, stacks: StackOutputs[]): Promise<void> {
  for (const o of stacks) {
    const m = o.failover.outputsMirror;
    await new BackupS3Client(cfg(endpoint, m.region)).send(
      new PutObjectCommand({
        Bucket: m.bucketName,
        Key: OUTPUTS_MIRROR.key(o.stack),
        Body: JSON.stringify(o, null, 2),
        ContentType: "application/json",
        ServerSideEncryption: "aws:kms",
        SSEKMSKeyId: m.kmsKeyArn,
      }),
    );
  }
}
