import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { customerKey } from "./kms.ts";

export interface VaultArgs {
  /** Vault name, e.g. eventchain-us-east-1. */
  vaultName: string;
  /**
   * `governance` (default): the lock holds against everyone without the
   * `backup:DeleteBackupVaultLockConfiguration` permission and can be removed by someone who has it.
   * `compliance`: after `changeableForDays` the lock CANNOT be removed or shortened by anyone,
   * including the account root and AWS Support; recovery points cannot be deleted before
   * `minRetentionDays`, and the vault cannot be deleted while it holds any.
   */
  lockMode?: "governance" | "compliance";
  /** Shortest retention any recovery point may have (the stack passes `backup.vaultLock.minRetentionDays`). */
  minRetentionDays: number;
  /** Longest retention any recovery point may have (the stack passes `backup.vaultLock.maxRetentionDays`). */
  maxRetentionDays: number;
  /** Compliance mode only: grace period (≥ 3 days) during which the lock can still be removed. */
  changeableForDays: number;
}

/**
 * An AWS Backup vault with its own customer KMS key and Vault Lock: recovery points in it cannot
 * be deleted early or have their retention shortened. Protected from `pulumi destroy`.
 */
export class Vault extends pulumi.ComponentResource {
  readonly vault: aws.backup.Vault;
  readonly kmsKey: aws.kms.Key;
  readonly lock: aws.backup.VaultLockConfiguration;

  constructor(name: string, args: VaultArgs, opts?: pulumi.ComponentResourceOptions) {
    super("eventchain:backup:Vault", name, {}, opts);
    const parent = { parent: this };
    const mode = args.lockMode ?? "governance";
    this.kmsKey = customerKey(`${name}-key`, `AWS Backup vault ${args.vaultName}`, parent);
    this.vault = new aws.backup.Vault(
      name,
      {
        name: args.vaultName,
        kmsKeyArn: this.kmsKey.arn,
        forceDestroy: false,
      },
      { ...parent, protect: true },
    );
    if (mode === "compliance") {
      void pulumi.log.warn(
        `Vault Lock on ${args.vaultName} is in COMPLIANCE mode: ${args.changeableForDays} days after it is applied it becomes ` +
          "IRREVERSIBLE. No one (not the account root, not AWS) can then remove it, shorten retention, or delete the vault " +
          "while it holds recovery points. Review minRetentionDays/maxRetentionDays before that grace period ends.",
        this,
      );
    }
    this.lock = new aws.backup.VaultLockConfiguration(
      `${name}-lock`,
      {
        backupVaultName: this.vault.name,
        minRetentionDays: args.minRetentionDays,
        maxRetentionDays: args.maxRetentionDays,
        // Setting changeableForDays is what makes a lock compliance mode; omitting it is governance mode.
        ...(mode === "compliance" ? { changeableForDays: args.changeableForDays } : {}),
      },
      { ...parent, protect: true },
    );
    this.registerOutputs({ vaultName: this.vault.name, vaultArn: this.vault.arn });
  }
}
