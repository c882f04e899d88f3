import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";

export interface PrimaryFenceArgs {
  /** VPC of the primary database. */
  vpcId: pulumi.Input<string>;
}

/**
 * What fencing the old primary needs, declared ahead of the disaster: a security group in the
 * database's VPC that admits nothing and lets nothing out. Fencing (region-failover once traffic
 * is on DR, failback first, or fence-primary alone) sets the primary database's security groups
 * to this one with ModifyDBInstance: no new connection reaches it, nothing is deleted, and the
 * instance keeps every write it took, for reconciliation. The runbooks record the fence on the
 * instance (contract/fence-record.ts) and the stack then declares the instance on this group, so a `pulumi
 * up` keeps the fence; runbooks/lift-fence.ts is the one way to lift it.
 */
export class PrimaryFence extends pulumi.ComponentResource {
  readonly securityGroup: aws.ec2.SecurityGroup;

  constructor(name: string, args: PrimaryFenceArgs, opts?: pulumi.ComponentResourceOptions) {
    super("eventchain:dr:PrimaryFence", name, {}, opts);
    this.securityGroup = new aws.ec2.SecurityGroup(
      `${name}-sg`,
      {
        vpcId: args.vpcId,
        description: "Fence: admits nothing (set on the old primary database after a failover)",
        ingress: [],
        egress: [],
        tags: { Name: "eventchain-primary-fence" },
      },
      { parent: this },
    );
    this.registerOutputs({ securityGroupId: this.securityGroup.id });
  }
}
