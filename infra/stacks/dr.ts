/** The `dr` role: everything the DR region needs before a disaster. Depends on no other stack. */
import type * as pulumi from "@pulumi/pulumi";
import { SWITCH_METRIC } from "../../contract/switch.ts";
import type { Context, StackOutputsInput } from "./common.ts";
import { common, ERROR_RATE_ALARM } from "./common.ts";
import { DnsFailover } from "../components/dns-failover.ts";
import { ErrorRateAlarm } from "../components/error-rate-alarm.ts";
import { FailoverSwitch } from "../components/failover-switch.ts";
import { SWITCH_THRESHOLD } from "../../contract/switch.ts";
import { OutputsMirror } from "../components/outputs-mirror.ts";
import { MediaReplica } from "../components/media-replication.ts";
import { PilotLight } from "../components/pilot-light.ts";
import { RestoreLanding } from "../components/restore-landing.ts";
import { RUN_JOURNAL_PREFIX } from "../../contract/backup-prefixes.ts";

export function buildDr(ctx: Context): StackOutputsInput {
  const { c } = ctx;
  const { alerts, base, backup, bucket, cache, database, ecrRepositories } = common(ctx);
  const media = new MediaReplica("media-replica", {}, ctx.opts);
  const pilot = new PilotLight(
    "pilot-light",
    {
      clusterName: c.services.clusterName,
      services: [{ ...c.services.backend, paths: ["/api/*", "/health"] }, { ...c.services.frontend }],
      vpcId: c.network.vpcId,
      privateSubnetIds: c.network.privateSubnetIds,
      publicSubnetIds: c.network.publicSubnetIds,
      certificateArn: c.services.certificateArn ?? "",
      region: c.region,
      accountId: ctx.accountId,
    },
    ctx.opts,
  );
  const errorRate = new ErrorRateAlarm(
    "error-rate",
    {
      alarmName: ERROR_RATE_ALARM.dr,
      where: "DR region",
      loadBalancerArnSuffix: pilot.loadBalancer.arnSuffix,
      thresholdPercent: c.services.errorRateThresholdPercent,
      alarmTopicArn: alerts.topicArn,
    },
    ctx.opts,
  );
  const landing = new RestoreLanding(
    "database",
    {
      restoreIdentifier: c.database.restoreIdentifier,
      dbName: c.database.dbName,
      engineVersion: c.database.engineVersion,
      port: c.database.port,
      vpcId: c.network.vpcId,
      subnetIds: c.network.privateSubnetIds,
      clientSecurityGroupId: pilot.serviceSecurityGroup.id,
    },
    ctx.opts,
  );
  const failover = drFailover(ctx, alerts.topicArn);
  const dns = new DnsFailover(
    "dns",
    {
      ...c.dns,
      secondaryTarget: pilot.loadBalancer.dnsName,
      switchHealthCheckId: failover.switch.healthCheck.id,
    },
    ctx.opts,
  );
  return {
    ...base,
    database: {
      ...database,
      instanceIdentifier: c.database.restoreIdentifier,
      instanceArn: null,
      resourceId: null,
      address: null,
      subnetGroupName: landing.subnetGroup.name,
      securityGroupIds: [landing.securityGroup.id],
      parameterGroupName: landing.parameterGroup.name,
      kmsKeyArn: landing.kmsKey.arn,
      masterSecretArn: null,
      appConnectionSecretArn: landing.appConnectionSecret.arn,
      replicatedBackupsArn: null,
    },
    backup: backup(null),
    media: {
      bucketName: media.storage.bucketName,
      replicaBucketName: null,
      replicationPrefix: "media/",
      rtcMinutes: null,
      kmsKeyArn: media.kmsKey.arn,
    },
    cache: cache(null, null),
    dns: {
      hostedZoneId: c.dns.hostedZoneId,
      recordName: c.dns.recordName,
      recordType: c.dns.recordType,
      ttl: c.dns.ttl,
      primaryHealthCheckId: dns.healthCheck.id,
      primarySetIdentifier: c.dns.primarySetIdentifier,
      secondarySetIdentifier: c.dns.secondarySetIdentifier,
      primaryTarget: c.dns.primaryTarget,
      secondaryTarget: pilot.loadBalancer.dnsName,
    },
    services: {
      clusterName: pilot.cluster.name,
      loadBalancerDnsName: pilot.loadBalancer.dnsName,
      services: pilot.services.map((s) => ({
        name: s.name,
        recoveryCount: s.recoveryCount,
        targetGroupArn: s.targetGroup.arn,
      })),
      errorRateAlarmName: errorRate.alarm.name,
    },
    alerts: { topicArn: alerts.topicArn },
    runJournal: { bucketName: bucket.bucketName, region: c.region, prefix: RUN_JOURNAL_PREFIX },
    ecrRepositories,
    kubernetes: { enabled: false, namespace: null, appDeployment: null, cronJobs: [], serviceAccountRoleArn: null },
    failover: failover.outputs(dns.nameServers),
  };
}

/**
 * The DR side of the failover (docs/failover-switch.md): the latched switch (alarm in this region
 * + CLOUDWATCH_METRIC health check) and the outputs mirror bucket both stacks write into.
 */
function drFailover(ctx: Context, topicArn: pulumi.Input<string>) {
  const { c } = ctx;
  const sw = new FailoverSwitch(
    "failover-switch",
    { recordName: c.dns.recordName, region: c.region, alarmTopicArn: topicArn },
    ctx.opts,
  );
  const mirror = new OutputsMirror("outputs-mirror", { accountId: ctx.accountId, region: c.region }, ctx.opts);
  return {
    switch: sw,
    outputs: (nameServers: pulumi.Input<string[]>) => ({
      mode: c.dns.failoverMode,
      switch: {
        healthCheckId: sw.healthCheck.id,
        alarmName: sw.alarm.name,
        region: c.region,
        namespace: SWITCH_METRIC.namespace,
        metricName: SWITCH_METRIC.metricName,
        dimensions: sw.dimensions,
        threshold: SWITCH_THRESHOLD,
        detectionSeconds: sw.detectionSeconds,
      },
      nameServers,
      fenceSecurityGroupIds: [],
      outputsMirror: { bucketName: mirror.storage.bucketName, region: c.region, kmsKeyArn: mirror.kmsKey.arn },
    }),
  };
}
