import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import type { DeclaredFence } from "../../contract/fence-record.ts";
import { customerKey } from "./kms.ts";

export interface DatabaseArgs {
  /** RDS instance identifier, e.g. eventchain-prod-db. */
  identifier: string;
  dbName: string;
  instanceClass: string;
  /** PostgreSQL version, e.g. "15.7"; the parameter group family follows its major version. */
  engineVersion: string;
  allocatedStorageGb: number;
  port: number;
  /** Days of automated backups (RDS allows 1..35; the plan keeps 30). */
  backupRetentionDays: number;
  /** Daily UTC window hh24:mi-hh24:mi, not overlapping `maintenanceWindow`. */
  backupWindow: string;
  /** Weekly UTC window ddd:hh24:mi-ddd:hh24:mi. */
  maintenanceWindow: string;
  multiAz: boolean;
  /**
   * Rely on point-in-time restore (default true): RDS automated backups kept `backupRetentionDays`.
   * false turns automated backups off (`backupRetentionPeriod: 0`), which is the only way RDS
   * disables PITR: the database is then protected by the AWS Backup snapshots alone, and nothing
   * is replicated to the DR region.
   */
  pointInTimeRecovery?: boolean;
  /** Replicate automated backups (snapshots + transaction logs) into the DR region. Default true. */
  replicateToPeer?: boolean;
  /** KMS key in the DR region for the replicated backups; required when `replicateToPeer`. */
  peerKmsKeyArn?: pulumi.Input<string>;
  vpcId: pulumi.Input<string>;
  subnetIds: pulumi.Input<string>[];
  /** Security groups allowed to connect on `port` (the application's). Default: none. */
  clientSecurityGroupIds?: pulumi.Input<string>[];
  /** Provider for the DR region (cross-region backup replication). */
  peerProvider: aws.Provider;
  /**
   * The fence a runbook set on the live instance (contract/fence-record.ts `declaredFence`, read by the
   * stack): while it resolves to a fence, the instance is declared on the fence's security groups
   * with its record's tags instead of `securityGroup`, so an update keeps the fence. Undefined, or
   * resolving to undefined: the instance's own security group and no tags.
   */
  fence?: pulumi.Input<DeclaredFence | undefined>;
}

/**
 * The primary PostgreSQL database and its backups: automated backups kept `backupRetentionDays`
 * (point-in-time restore), copied tags, encryption with a customer key, master password kept by
 * Secrets Manager, deletion protection, `protect`, a final snapshot with a unique name, and
 * automated backups that survive the instance (`deleteAutomatedBackups: false`). Automated
 * backups are replicated into the DR region so point-in-time restore works there too. While
 * `fence` says a runbook fenced the instance, it is declared on the fence instead of its own
 * security group (docs/failover-switch.md, "Fencing the old primary").
 */
export class Database extends pulumi.ComponentResource {
  readonly instance: aws.rds.Instance;
  readonly kmsKey: aws.kms.Key;
  readonly subnetGroup: aws.rds.SubnetGroup;
  readonly securityGroup: aws.ec2.SecurityGroup;
  readonly parameterGroup: aws.rds.ParameterGroup;
  readonly appConnectionSecret: aws.secretsmanager.Secret;
  readonly replication?: aws.rds.InstanceAutomatedBackupsReplication;

  // Long on purpose: it declares the component's resources in order, one block each, all with { parent: this }.
  constructor(name: string, args: DatabaseArgs, opts?: pulumi.ComponentResourceOptions) {
    super("eventchain:backup:Database", name, {}, opts);
    const parent = { parent: this };
    this.kmsKey = customerKey(`${name}-key`, `Storage encryption of ${args.identifier}`, parent);
    this.subnetGroup = new aws.rds.SubnetGroup(`${name}-subnets`, { subnetIds: args.subnetIds }, parent);
    this.securityGroup = new aws.ec2.SecurityGroup(
      `${name}-sg`,
      {
        vpcId: args.vpcId,
        description: `PostgreSQL clients of ${args.identifier}`,
        ingress:
          (args.clientSecurityGroupIds ?? []).length === 0
            ? []
            : [
                {
                  protocol: "tcp",
                  fromPort: args.port,
                  toPort: args.port,
                  securityGroups: args.clientSecurityGroupIds,
                  description: "application",
                },
              ],
      },
      parent,
    );
    const pitr = args.pointInTimeRecovery !== false;
    if (!pitr)
      void pulumi.log.warn(
        `${args.identifier}: point-in-time recovery is off; only scheduled snapshots protect it`,
        this,
      );
    const fence = pulumi.output(args.fence);
    fence.apply((f) => {
      if (f) void pulumi.log.warn(f.notice, this);
    });
    const major = args.engineVersion.split(".")[0];
    this.parameterGroup = new aws.rds.ParameterGroup(
      `${name}-params`,
      {
        family: `postgres${major}`,
        parameters: [
          { name: "rds.force_ssl", value: "1" },
          { name: "log_min_duration_statement", value: "1000" },
        ],
      },
      parent,
    );
    this.instance = new aws.rds.Instance(
      `${name}-instance`,
      {
        identifier: args.identifier,
        engine: "postgres",
        engineVersion: args.engineVersion,
        instanceClass: args.instanceClass,
        allocatedStorage: args.allocatedStorageGb,
        storageType: "gp3",
        dbName: args.dbName,
        port: args.port,
        username: "eventchain_admin",
        manageMasterUserPassword: true,
        masterUserSecretKmsKeyId: this.kmsKey.arn,
        storageEncrypted: true,
        kmsKeyId: this.kmsKey.arn,
        multiAz: args.multiAz,
        dbSubnetGroupName: this.subnetGroup.name,
        vpcSecurityGroupIds: pulumi
          .all([fence, this.securityGroup.id])
          .apply(([f, id]) => (f ? f.securityGroupIds : [id])),
        tags: fence.apply((f) => f?.tags),
        parameterGroupName: this.parameterGroup.name,
        publiclyAccessible: false,
        backupRetentionPeriod: pitr ? args.backupRetentionDays : 0,
        backupWindow: args.backupWindow,
        maintenanceWindow: args.maintenanceWindow,
        copyTagsToSnapshot: true,
        deletionProtection: true,
        deleteAutomatedBackups: false,
        skipFinalSnapshot: false,
        // Unique per instance generation, so a re-create never collides with an earlier final snapshot.
        finalSnapshotIdentifier: `${args.identifier}-final-${new Date().toISOString().replace(/\D/g, "").slice(0, 14)}`,
        autoMinorVersionUpgrade: true,
        performanceInsightsEnabled: true,
        performanceInsightsKmsKeyId: this.kmsKey.arn,
        enabledCloudwatchLogsExports: ["postgresql"],
      },
      { ...parent, protect: true, ignoreChanges: ["finalSnapshotIdentifier"] },
    );

    this.appConnectionSecret = new aws.secretsmanager.Secret(
      `${name}-app-connection`,
      {
        description: `Connection settings (no password) of ${args.identifier}; the recovery runbook repoints it`,
        kmsKeyId: this.kmsKey.arn,
        recoveryWindowInDays: 30,
      },
      parent,
    );
    new aws.secretsmanager.SecretVersion(
      `${name}-app-connection-value`,
      {
        secretId: this.appConnectionSecret.id,
        secretString: pulumi.jsonStringify({
          host: this.instance.address,
          port: args.port,
          dbname: args.dbName,
          sslmode: "verify-full",
        }),
      },
      { ...parent, ignoreChanges: ["secretString"] },
    );

    if (pitr && args.replicateToPeer !== false) {
      if (!args.peerKmsKeyArn)
        throw new Error(`Database ${name}: peerKmsKeyArn is required when replicateToPeer is true`);
      this.replication = new aws.rds.InstanceAutomatedBackupsReplication(
        `${name}-backups-to-peer`,
        {
          sourceDbInstanceArn: this.instance.arn,
          kmsKeyId: args.peerKmsKeyArn,
          retentionPeriod: args.backupRetentionDays,
        },
        { ...parent, provider: args.peerProvider },
      );
    }
    this.registerOutputs({ instanceArn: this.instance.arn, replicatedBackupsArn: this.replication?.id });
  }
}
