import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { customerKey } from "./kms.ts";

export interface CacheArgs {
  replicationGroupId: string;
  nodeType: string;
  engineVersion: string;
  numCacheClusters: number;
  /** Days ElastiCache keeps its daily automatic snapshots (1..35). */
  snapshotRetentionDays: number;
  /** Daily UTC window hh24:mi-hh24:mi for the automatic snapshot (≥ 60 minutes). */
  snapshotWindow: string;
  /** Weekly UTC maintenance window, not overlapping `snapshotWindow`. */
  maintenanceWindow: string;
  vpcId: pulumi.Input<string>;
  subnetIds: pulumi.Input<string>[];
  /** Security groups allowed to connect on 6379. Default: none. */
  clientSecurityGroupIds?: pulumi.Input<string>[];
}

/**
 * Redis (ElastiCache): Multi-AZ, encrypted at rest with a customer key and in transit, with a
 * daily automatic snapshot kept `snapshotRetentionDays`. AWS Backup does not cover ElastiCache,
 * so the daily snapshot is exported to the backup bucket by the Redis export job (see
 * LogicalBackups / KubernetesJobs), which gives it a copy outside ElastiCache.
 */
export class Cache extends pulumi.ComponentResource {
  readonly replicationGroup: aws.elasticache.ReplicationGroup;
  readonly kmsKey: aws.kms.Key;

  constructor(name: string, args: CacheArgs, opts?: pulumi.ComponentResourceOptions) {
    super("eventchain:backup:Cache", name, {}, opts);
    const parent = { parent: this };
    this.kmsKey = customerKey(`${name}-key`, `Redis ${args.replicationGroupId}`, parent);
    const subnets = new aws.elasticache.SubnetGroup(`${name}-subnets`, { subnetIds: args.subnetIds }, parent);
    const sg = new aws.ec2.SecurityGroup(
      `${name}-sg`,
      {
        vpcId: args.vpcId,
        description: `Redis clients of ${args.replicationGroupId}`,
        ingress:
          (args.clientSecurityGroupIds ?? []).length === 0
            ? []
            : [
                {
                  protocol: "tcp",
                  fromPort: 6379,
                  toPort: 6379,
                  securityGroups: args.clientSecurityGroupIds,
                  description: "application",
                },
              ],
      },
      parent,
    );
    this.replicationGroup = new aws.elasticache.ReplicationGroup(
      `${name}-redis`,
      {
        replicationGroupId: args.replicationGroupId,
        description: "EventChain cache and sessions",
        engine: "redis",
        engineVersion: args.engineVersion,
        nodeType: args.nodeType,
        numCacheClusters: args.numCacheClusters,
        automaticFailoverEnabled: true,
        multiAzEnabled: true,
        atRestEncryptionEnabled: true,
        kmsKeyId: this.kmsKey.arn,
        transitEncryptionEnabled: true,
        subnetGroupName: subnets.name,
        securityGroupIds: [sg.id],
        snapshotRetentionLimit: args.snapshotRetentionDays,
        snapshotWindow: args.snapshotWindow,
        maintenanceWindow: args.maintenanceWindow,
        // Unique per generation so a re-create never collides with an earlier final snapshot.
        finalSnapshotIdentifier: `${args.replicationGroupId}-final-${new Date().toISOString().replace(/\D/g, "").slice(0, 14)}`,
      },
      { ...parent, protect: true, ignoreChanges: ["finalSnapshotIdentifier"] },
    );
    this.registerOutputs({ replicationGroupId: this.replicationGroup.replicationGroupId });
  }
}
