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
import { DR_READINESS_SCHEDULE } from "../components/backup-jobs.ts";
import { RestoreTesting } from "../components/backup-plan.ts";
import { BackupHeartbeats, verifiedPath } from "../components/heartbeats.ts";
import { RunJournalBucket } from "../components/run-journal-bucket.ts";
import type { Vault } from "../components/vault.ts";

export function buildDr(ctx: Context): StackOutputsInput {
  const { c } = ctx;
  const { alerts, base, backup, cache, database, ecrRepositories, vault } = common(ctx);
  const media = new MediaReplica("media-replica", {}, ctx.opts);
  const { pilot, errorRate } = drServices(ctx, alerts.topicArn);
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
  const journal = new RunJournalBucket("run-journal", {}, ctx.opts);
  drRestoreTests(ctx, alerts.topicArn, landing, vault);
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
    // Not the locked backup bucket: journal and lock versions expire there (RunJournalBucket).
    runJournal: { bucketName: journal.bucketName, region: c.region, prefix: journal.prefix },
    ecrRepositories,
    kubernetes: { enabled: false, namespace: null, appDeployment: null, cronJobs: [], serviceAccountRoleArn: null },
    failover: failover.outputs(dns.nameServers),
  };
}

/** The pilot light (services at 0, their load balancer) and its error-rate alarm. */
function drServices(ctx: Context, topicArn: pulumi.Input<string>) {
  const { c } = ctx;
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
      alarmTopicArn: topicArn,
    },
    ctx.opts,
  );
  return { pilot, errorRate };
}

/**
 * Restore tests of the copies region-failover restores from: AWS Backup restore testing over the
 * DR vault, landing in the restore landing's subnets, and the heartbeat of those tests — the
 * `restore-tests` success check-dr-readiness records in this region once it validated one.
 */
function drRestoreTests(ctx: Context, topicArn: pulumi.Input<string>, landing: RestoreLanding, vault: Vault) {
  const { c } = ctx;
  if (!c.backup.restoreTesting) return;
  new RestoreTesting(
    "restore-testing",
    {
      stack: c.stack,
      vaultArn: vault.vault.arn,
      schedule: c.schedules.restoreTest,
      dbSubnetGroupName: landing.subnetGroup.name,
      instanceClass: "db.t4g.medium",
      accountId: ctx.accountId,
    },
    ctx.opts,
  );
  new BackupHeartbeats(
    "heartbeats",
    {
      stack: c.stack,
      alarmTopicArn: topicArn,
      paths: [verifiedPath("restore-tests", c.stack, c.region, DR_READINESS_SCHEDULE)],
    },
    ctx.opts,
  );
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
