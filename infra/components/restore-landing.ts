import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { customerKey } from "./kms.ts";

export interface RestoreLandingArgs {
  /** Identifier the DR restore creates, e.g. eventchain-dr-db (the runbook creates it, not Pulumi). */
  restoreIdentifier: string;
  dbName: string;
  engineVersion: string;
  port: number;
  vpcId: pulumi.Input<string>;
  subnetIds: pulumi.Input<string>[];
  /** Security group allowed to connect (the DR services'). Default: none. */
  clientSecurityGroupId?: pulumi.Input<string>;
}

/**
 * Everything a database restore in the DR region lands on, declared ahead of the disaster:
 * the DR-region KMS key the primary's automated backups are replicated under, a subnet group,
 * a security group, a parameter group and the application's connection secret. The restored
 * instance itself is created out-of-band by the runbook under `restoreIdentifier`; it is not a
 * Pulumi resource, so no `pulumi up` or `refresh` can replace or delete it.
 */
export class RestoreLanding extends pulumi.ComponentResource {
  readonly kmsKey: aws.kms.Key;
  readonly subnetGroup: aws.rds.SubnetGroup;
  readonly securityGroup: aws.ec2.SecurityGroup;
  readonly parameterGroup: aws.rds.ParameterGroup;
  readonly appConnectionSecret: aws.secretsmanager.Secret;

  constructor(name: string, args: RestoreLandingArgs, opts?: pulumi.ComponentResourceOptions) {
    super("eventchain:dr:RestoreLanding", name, {}, opts);
    const parent = { parent: this };
    this.kmsKey = customerKey(`${name}-key`, `Replicated backups and restores of ${args.restoreIdentifier}`, parent);
    this.subnetGroup = new aws.rds.SubnetGroup(`${name}-subnets`, { subnetIds: args.subnetIds }, parent);
    this.securityGroup = new aws.ec2.SecurityGroup(
      `${name}-sg`,
      {
        vpcId: args.vpcId,
        description: `PostgreSQL clients of ${args.restoreIdentifier}`,
      },
      parent,
    );
    if (args.clientSecurityGroupId)
      new aws.vpc.SecurityGroupIngressRule(
        `${name}-sg-clients`,
        {
          securityGroupId: this.securityGroup.id,
          referencedSecurityGroupId: args.clientSecurityGroupId,
          ipProtocol: "tcp",
          fromPort: args.port,
          toPort: args.port,
          description: "DR services",
        },
        parent,
      );
    this.parameterGroup = new aws.rds.ParameterGroup(
      `${name}-params`,
      {
        family: `postgres${args.engineVersion.split(".")[0]}`,
        parameters: [{ name: "rds.force_ssl", value: "1" }],
      },
      parent,
    );
    this.appConnectionSecret = new aws.secretsmanager.Secret(
      `${name}-app-connection`,
      {
        description: `Connection settings (no password) of ${args.restoreIdentifier}; written by the failover runbook`,
        kmsKeyId: this.kmsKey.arn,
        recoveryWindowInDays: 30,
      },
      parent,
    );
    this.registerOutputs({ kmsKeyArn: this.kmsKey.arn });
  }
}
