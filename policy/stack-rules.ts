/**
 * Rules that need the whole stack: every critical/important data store has a cross-region
 * copy, every vault is locked, every bucket is private and TLS-only (IAM: `iam-rules.ts`).
 */
import type { PolicyResource, ResourceValidationPolicy, StackValidationPolicy } from "@pulumi/policy";
import {
  asArray,
  needsCrossRegionCopy,
  statementsOf,
  systemOf,
  tierOf,
  type PolicyContext,
  type Statement,
} from "./rule-context.ts";

type Props = Record<string, any>;
const BUCKET = "aws:s3/bucket:Bucket";

/** Resources of `type` that point at `target` through `prop` (by dependency, or by equal value when known). */
function referencing(
  resources: PolicyResource[],
  type: string,
  prop: string,
  target: PolicyResource,
  targetProps: string[],
): PolicyResource[] {
  return resources.filter((r) => {
    if (r.type !== type) return false;
    if ((r.propertyDependencies?.[prop] ?? []).some((d) => d.urn === target.urn)) return true;
    const value = r.props[prop];
    return value !== undefined && targetProps.some((k) => target.props[k] !== undefined && target.props[k] === value);
  });
}

export function crossRegionPolicy(ctx: PolicyContext): StackValidationPolicy {
  return {
    name: "cross-region-copies",
    description:
      "In the primary stack, every critical and important data store has a copy in the DR region: RDS " +
      "automated-backup replication or an AWS Backup copy action for databases, S3 replication for buckets.",
    enforcementLevel: "mandatory",
    validateStack: (args, report) => {
      if (ctx.role !== "primary") return;
      const rs = args.resources;
      for (const r of rs) {
        const system = systemOf(r.type, r.name, r.props);
        if (!system) continue;
        const { tier, rpoMinutes } = tierOf(system, ctx);
        if (!needsCrossRegionCopy(tier)) continue;
        const why = `${system} is ${tier} (RPO ${rpoMinutes} min)`;
        if (r.type === "aws:rds/instance:Instance") {
          const replicated = referencing(
            rs,
            "aws:rds/instanceAutomatedBackupsReplication:InstanceAutomatedBackupsReplication",
            "sourceDbInstanceArn",
            r,
            ["arn"],
          );
          const copied = rs.some(
            (p) =>
              p.type === "aws:backup/plan:Plan" &&
              asArray<Props>(p.props.rules).some((rule) => asArray(rule.copyActions).length > 0),
          );
          if (replicated.length === 0 && !copied) {
            report(
              `${r.name}: no cross-region copy: declare an aws.rds.InstanceAutomatedBackupsReplication for it (or an AWS Backup copy action); ${why}`,
              r.urn,
            );
          }
        }
        if (r.type === BUCKET) {
          const replication = referencing(rs, "aws:s3/bucketReplicationConfig:BucketReplicationConfig", "bucket", r, [
            "id",
            "bucket",
          ]);
          const enabled = replication.some((c) =>
            asArray<Props>(c.props.rules).some((rule) => rule.status === "Enabled"),
          );
          if (!enabled)
            report(
              `${r.name}: no cross-region copy: declare an enabled aws.s3.BucketReplicationConfig for it; ${why}`,
              r.urn,
            );
        }
      }
    },
  };
}

export function vaultLockPolicy(): StackValidationPolicy {
  return {
    name: "vault-lock-on",
    description:
      "Every AWS Backup vault has a Vault Lock configuration, so backups cannot be deleted before their minimum retention.",
    enforcementLevel: "mandatory",
    validateStack: (args, report) => {
      for (const vault of args.resources.filter((r) => r.type === "aws:backup/vault:Vault")) {
        const locks = referencing(
          args.resources,
          "aws:backup/vaultLockConfiguration:VaultLockConfiguration",
          "backupVaultName",
          vault,
          ["name", "id"],
        );
        if (locks.length === 0)
          report(`${vault.name}: no aws.backup.VaultLockConfiguration locks this vault`, vault.urn);
      }
    },
  };
}

const ALL_PUBLIC_BLOCKS = [
  "blockPublicAcls",
  "blockPublicPolicy",
  "ignorePublicAcls",
  "restrictPublicBuckets",
] as const;

/** True when a statement denies every request made without TLS. */
export function deniesInsecureTransport(s: Statement): boolean {
  const value = s.Condition?.Bool?.["aws:SecureTransport"];
  return (
    s.Effect === "Deny" &&
    (value === false || value === "false") &&
    asArray(s.Action).some((a) => a === "s3:*" || a === "*")
  );
}

/** True when a statement allows anyone (Principal `*`) without a condition. */
export function allowsPublic(s: Statement): boolean {
  const p = s.Principal as any;
  const star = p === "*" || p?.AWS === "*" || (Array.isArray(p?.AWS) && p.AWS.includes("*"));
  return s.Effect === "Allow" && star && !s.Condition;
}

export function bucketAccessResourcePolicy(): ResourceValidationPolicy {
  return {
    name: "buckets-private-tls-only",
    description: "Buckets block all public access, grant nothing to anyone, and refuse requests without TLS.",
    enforcementLevel: "mandatory",
    validateResource: (args, report) => {
      const p: Props = args.props;
      if (args.type === "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock") {
        const off = ALL_PUBLIC_BLOCKS.filter((k) => p[k] !== true);
        if (off.length) report(`${args.name}: ${off.join(", ")} must be true`);
      }
      if (args.type === "aws:s3/bucketAcl:BucketAcl" && /public/.test(String(p.acl ?? ""))) {
        report(`${args.name}: acl "${p.acl}" is public; expected private`);
      }
      if (args.type === "aws:s3/bucketPolicy:BucketPolicy") {
        const statements = statementsOf(p.policy, args.name);
        if (!statements.some(deniesInsecureTransport)) {
          report(`${args.name}: no statement denies s3:* when aws:SecureTransport is false (TLS-only)`);
        }
        if (statements.some(allowsPublic)) report(`${args.name}: a statement allows Principal "*" without a condition`);
      }
    },
  };
}

export function bucketAccessStackPolicy(): StackValidationPolicy {
  return {
    name: "buckets-have-public-access-block-and-tls-policy",
    description:
      "Every bucket has its own public access block and a bucket policy (which the resource rule checks is TLS-only).",
    enforcementLevel: "mandatory",
    validateStack: (args, report) => {
      for (const bucket of args.resources.filter((r) => r.type === BUCKET)) {
        const keys = ["id", "bucket"];
        if (
          referencing(args.resources, "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", "bucket", bucket, keys)
            .length === 0
        ) {
          report(`${bucket.name}: no aws.s3.BucketPublicAccessBlock for this bucket`, bucket.urn);
        }
        if (referencing(args.resources, "aws:s3/bucketPolicy:BucketPolicy", "bucket", bucket, keys).length === 0) {
          report(`${bucket.name}: no aws.s3.BucketPolicy (TLS-only) for this bucket`, bucket.urn);
        }
      }
    },
  };
}
