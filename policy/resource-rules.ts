/**
 * Rules over one resource at a time: deletion safety, encryption with customer keys, RTC
 * (retention and PITR: `retention-rules.ts`). Each is a `ResourceValidationPolicy` built from the context, so the
 * numbers come from the objectives, never from the rule.
 */
import type { ResourceValidationArgs, ResourceValidationPolicy, ReportViolation } from "@pulumi/policy";
import { BASE_FIGURES as FIGURES } from "../contract/figures.ts";
import { asArray, systemOf, systemOfPrefix, tierOf, type PolicyContext } from "./rule-context.ts";

export type Props = Record<string, any>;
export const RDS = "aws:rds/instance:Instance";
export const RDS_REPLICATION = "aws:rds/instanceAutomatedBackupsReplication:InstanceAutomatedBackupsReplication";
export const PLAN = "aws:backup/plan:Plan";
export const VAULT = "aws:backup/vault:Vault";
export const CACHE = "aws:elasticache/replicationGroup:ReplicationGroup";
export const LIFECYCLE = "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration";
export const SSE = "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration";
export const S3_REPLICATION = "aws:s3/bucketReplicationConfig:BucketReplicationConfig";
export const KMS_KEY = "aws:kms/key:Key";

/** Reports `message` as `<type> "<name>": message`. */
export const at = (args: ResourceValidationArgs, report: ReportViolation) => (message: string) =>
  report(`${args.name}: ${message}`);

export function deletionSafetyPolicy(): ResourceValidationPolicy {
  return {
    name: "deletion-protection-and-final-snapshots",
    description:
      "Databases have deletion protection, a final snapshot with a unique name, keep their automated backups on delete, and are protected from `pulumi destroy`; so are backup vaults.",
    enforcementLevel: "mandatory",
    validateResource: (args, report) => {
      const v = at(args, report);
      const p: Props = args.props;
      if (args.type === RDS) {
        if (p.deletionProtection !== true) v("deletionProtection must be true");
        if (p.skipFinalSnapshot === true)
          v("skipFinalSnapshot must be false: deleting the database must leave a final snapshot");
        if (!p.finalSnapshotIdentifier)
          v("finalSnapshotIdentifier must be set (unique per instance, so a re-create does not collide)");
        if (p.deleteAutomatedBackups !== false)
          v("deleteAutomatedBackups must be false: otherwise deleting the instance deletes its automated backups");
        if (args.opts?.protect !== true) v("the resource option protect must be true");
      }
      if (args.type === VAULT) {
        if (p.forceDestroy === true) v("forceDestroy must not be true on a backup vault");
        if (args.opts?.protect !== true) v("the resource option protect must be true");
      }
    },
  };
}

export function encryptionPolicy(): ResourceValidationPolicy {
  return {
    name: "encryption-at-rest-customer-keys",
    description:
      "Databases, replicated backups, vaults, buckets and caches are encrypted at rest with customer-managed KMS keys (and the cache in transit); keys rotate.",
    enforcementLevel: "mandatory",
    validateResource: (args, report) => {
      const v = at(args, report);
      const p: Props = args.props;
      switch (args.type) {
        case RDS:
          if (p.storageEncrypted !== true) v("storageEncrypted must be true");
          if (!p.kmsKeyId)
            v(
              "kmsKeyId must name a customer-managed KMS key (the AWS-managed aws/rds key cannot be shared or copied across regions)",
            );
          break;
        case RDS_REPLICATION:
          if (!p.kmsKeyId) v("kmsKeyId must name a customer-managed KMS key in the destination region");
          break;
        case VAULT:
          if (!p.kmsKeyArn) v("kmsKeyArn must name a customer-managed KMS key");
          break;
        case CACHE:
          if (p.atRestEncryptionEnabled !== true) v("atRestEncryptionEnabled must be true");
          if (!p.kmsKeyId) v("kmsKeyId must name a customer-managed KMS key");
          if (p.transitEncryptionEnabled !== true) v("transitEncryptionEnabled must be true");
          break;
        case SSE:
          for (const rule of asArray<Props>(p.rules)) {
            const d = rule.applyServerSideEncryptionByDefault ?? {};
            if (!["aws:kms", "aws:kms:dsse"].includes(d.sseAlgorithm))
              v(`sseAlgorithm is ${JSON.stringify(d.sseAlgorithm)}; expected "aws:kms" or "aws:kms:dsse"`);
            if (!d.kmsMasterKeyId) v("kmsMasterKeyId must name a customer-managed KMS key");
          }
          break;
        case KMS_KEY:
          if (p.enableKeyRotation !== true) v("enableKeyRotation must be true");
          break;
      }
    },
  };
}

export function rtcPolicy(ctx: PolicyContext): ResourceValidationPolicy {
  return {
    name: "rtc-on-replication",
    description:
      `S3 replication of classified data has Replication Time Control (${FIGURES.s3RtcThreshold.value} ` +
      `min) and metrics: without RTC S3 bounds nothing ('a couple of hours or more'), so no RPO objective ` +
      `— least of all one of ${FIGURES.s3RtcThreshold.value} min or less — can be shown to be met.`,
    enforcementLevel: "mandatory",
    validateResource: (args, report) => {
      if (args.type !== S3_REPLICATION) return;
      const v = at(args, report);
      const bucketSystem = systemOf(args.type, args.name, args.props);
      for (const rule of asArray<Props>(args.props.rules)) {
        if (rule.status !== "Enabled") continue;
        const prefix = rule.filter?.prefix ?? rule.prefix;
        const system = systemOfPrefix(prefix) ?? bucketSystem;
        const tier = system ? tierOf(system, ctx) : undefined;
        const rtc = rule.destination?.replicationTime;
        const metrics = rule.destination?.metrics;
        const who = system
          ? `${system} is ${tier!.tier} (RPO ${tier!.rpoMinutes} min)`
          : "the replicated data's system is unknown (tag eventchain:system)";
        if (rtc?.status !== "Enabled" || rtc?.time?.minutes !== FIGURES.s3RtcThreshold.value) {
          v(
            `rule ${rule.id} (${prefix ?? "whole bucket"}): replicationTime must be Enabled with ${FIGURES.s3RtcThreshold.value} minutes; ${who}`,
          );
        }
        if (metrics?.status !== "Enabled")
          v(`rule ${rule.id}: metrics must be Enabled so replication latency can alert`);
      }
    },
  };
}
