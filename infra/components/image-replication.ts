import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";

export interface ImageReplicationArgs {
  /** Repository names, e.g. eventchain/backend, eventchain/frontend. */
  repositories: string[];
  /** Region the images are replicated to (the DR region). */
  destinationRegion: string;
  /** This account's id (the registry replicated into). */
  accountId: pulumi.Input<string>;
}

/**
 * Container images: the ECR repositories, scanned on push and KMS-encrypted, and the registry's
 * cross-region replication of exactly those repositories into the DR region. This is the managed
 * form of the plan's `docker save | gzip` to S3: every pushed image is in the DR registry within
 * minutes, ready for the pilot-light services to pull.
 */
export class ImageReplication extends pulumi.ComponentResource {
  readonly repositories: aws.ecr.Repository[];
  readonly replication: aws.ecr.ReplicationConfiguration;

  constructor(name: string, args: ImageReplicationArgs, opts?: pulumi.ComponentResourceOptions) {
    super("eventchain:backup:ImageReplication", name, {}, opts);
    const parent = { parent: this };
    this.repositories = args.repositories.map(
      (repo) =>
        new aws.ecr.Repository(
          `${name}-${repo.replace(/[^a-z0-9]+/g, "-")}`,
          {
            name: repo,
            imageTagMutability: "MUTABLE",
            imageScanningConfiguration: { scanOnPush: true },
            encryptionConfigurations: [{ encryptionType: "KMS" }],
            forceDelete: false,
          },
          { ...parent, protect: true },
        ),
    );
    this.replication = new aws.ecr.ReplicationConfiguration(
      `${name}-replication`,
      {
        replicationConfiguration: {
          rules: [
            {
              destinations: [{ region: args.destinationRegion, registryId: args.accountId }],
              repositoryFilters: args.repositories.map((repo) => ({ filter: repo, filterType: "PREFIX_MATCH" })),
            },
          ],
        },
      },
      parent,
    );
    this.registerOutputs({ repositories: args.repositories });
  }
}
