import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { OUTPUTS_MIRROR } from "../../contract/stack-outputs.ts";
import { customerKey } from "./kms.ts";
import { SecureBucket } from "./secure-bucket.ts";

export interface OutputsMirrorArgs {
  accountId: pulumi.Input<string>;
  /** The DR region (the provider's region). */
  region: string;
}

/**
 * The DR region's copy of both stacks' outputs: a private, versioned, SSE-KMS, TLS-only bucket
 * named `OUTPUTS_MIRROR.bucketName(account, region)` (derived, so a runbook finds it with STS in
 * the DR region when the state backend is unreachable). Each stack writes its own object into it
 * (`MirroredOutputs`) at every `pulumi up`; versioning keeps every earlier copy.
 */
export class OutputsMirror extends pulumi.ComponentResource {
  readonly kmsKey: aws.kms.Key;
  readonly storage: SecureBucket;

  constructor(name: string, args: OutputsMirrorArgs, opts?: pulumi.ComponentResourceOptions) {
    super("eventchain:dr:OutputsMirror", name, {}, opts);
    const parent = { parent: this };
    this.kmsKey = customerKey(`${name}-key`, "Stack outputs mirrored in the DR region", parent);
    this.storage = new SecureBucket(
      name,
      {
        kmsKeyArn: this.kmsKey.arn,
        bucketName: pulumi.output(args.accountId).apply((account) => OUTPUTS_MIRROR.bucketName(account, args.region)),
      },
      parent,
    );
    this.registerOutputs({ bucketName: this.storage.bucketName });
  }
}

export interface MirroredOutputsArgs {
  stack: string;
  bucketName: pulumi.Input<string>;
  kmsKeyArn: pulumi.Input<string>;
  /** The stack's outputs, exactly as it exports them. */
  outputs: pulumi.Input<Record<string, unknown>>;
}

/** One stack's outputs as JSON at `OUTPUTS_MIRROR.key(stack)` in the mirror bucket, rewritten at every `pulumi up`. */
export class MirroredOutputs extends pulumi.ComponentResource {
  readonly object: aws.s3.BucketObjectv2;

  constructor(name: string, args: MirroredOutputsArgs, opts?: pulumi.ComponentResourceOptions) {
    super("eventchain:dr:MirroredOutputs", name, {}, opts);
    this.object = new aws.s3.BucketObjectv2(
      `${name}-object`,
      {
        bucket: args.bucketName,
        key: OUTPUTS_MIRROR.key(args.stack),
        content: pulumi.jsonStringify(args.outputs),
        contentType: "application/json",
        serverSideEncryption: "aws:kms",
        kmsKeyId: args.kmsKeyArn,
      },
      { parent: this },
    );
    this.registerOutputs({ key: this.object.key });
  }
}
