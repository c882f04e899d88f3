/**
 * Stack outputs for a local run (the drill, tests): the contract of contract/stack-outputs.ts filled with
 * the local stand-ins (throwaway PostgreSQL, the emulator's bucket), through the one outputs
 * builder (`buildOutputs`, which takes objectives, classification, prefixes and retention from
 * where the stacks do); everything the local run has no counterpart for is named `local-…` so
 * that it cannot be mistaken for a real resource.
 */
import { parseStackOutputs, type StackOutputs } from "../../contract/stack-outputs.ts";
import { buildOutputs } from "./seeded-outputs.ts";

export interface LocalFacts {
  /** Stack whose config provides objectives and classification (default `prod`). */
  stack?: string;
  /** Identifier of the local source database (e.g. `drill-primary`). */
  instanceIdentifier: string;
  dbName: string;
  port: number;
  bucketName: string;
  region?: string;
}

export function localOutputs(f: LocalFacts): StackOutputs {
  const stack = f.stack === "dr" ? "dr" : "prod";
  const local = (what: string) => `local-${what}`;
  const base = buildOutputs({
    stack,
    region: f.region ?? "us-east-1",
    instanceIdentifier: f.instanceIdentifier,
    instanceArn: null,
    resourceId: null,
    address: "127.0.0.1",
    subnetGroupName: local("loopback"),
    securityGroupIds: [],
    parameterGroupName: local("postgresql.conf"),
    kmsKeyArn: local("none"),
    appConnectionSecretArn: local("libpq-environment"),
    replicatedBackupsArn: null,
    hostedZoneId: local("zone"),
    primaryHealthCheckId: local("health-check"),
    primaryTarget: "127.0.0.1",
    secondaryTarget: "127.0.0.1",
    clusterName: local("cluster"),
    loadBalancerDnsName: "127.0.0.1",
    services: [],
    topicArn: local("topic"),
    database: {
      port: f.port,
      dbName: f.dbName,
      engineVersion: "15",
      instanceClass: local("throwaway"),
      backupRetentionDays: 1,
    },
    backupBucketName: f.bucketName,
  });
  // What a local run has no counterpart for: named local-… so it cannot pass for a real resource.
  return parseStackOutputs(
    {
      ...base,
      role: "primary",
      peerRegion: "us-west-2",
      backup: { ...base.backup, vaultName: local("vault"), vaultArn: local("vault"), planId: null },
      media: { bucketName: local("media"), replicaBucketName: null, replicationPrefix: "media/", rtcMinutes: null },
      cache: { ...base.cache, transitEncryption: false, snapshotRetentionDays: 1, snapshotWindow: "03:00-04:00" },
      dns: { ...base.dns, recordName: "api.eventchain.local" },
      services: { ...base.services, errorRateAlarmName: local("alarm") },
      ecrRepositories: [],
      // The local run keeps its run lock and shared journal in the emulator's bucket too.
      runJournal: { bucketName: f.bucketName, region: base.region, prefix: "runs/" },
      failover: {
        ...base.failover,
        switch: {
          ...base.failover.switch,
          healthCheckId: local("switch-health-check"),
          alarmName: local("switch-alarm"),
          region: base.region,
          dimensions: [{ name: "Record", value: "api.eventchain.local" }],
        },
        nameServers: [],
        fenceSecurityGroupIds: [],
        outputsMirror: { bucketName: local("outputs-mirror"), region: base.region, kmsKeyArn: local("none") },
      },
    },
    "local drill outputs",
  );
}
