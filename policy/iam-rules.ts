/**
 * No IAM, vault or bucket policy allows wildcard actions on the services that hold backups,
 * their copies or their keys.
 */
import type { ResourceValidationPolicy } from "@pulumi/policy";
import { asArray, statementsOf, type Statement } from "./rule-context.ts";

type Props = Record<string, any>;

/** Services whose actions touch backups, their copies or their keys. */
export const BACKUP_SERVICES = ["backup", "backup-storage", "rds", "s3", "kms", "elasticache", "ecr", "ebs"] as const;
const POLICY_PROPS: Record<string, (p: Props) => unknown[]> = {
  "aws:iam/policy:Policy": (p) => [p.policy],
  "aws:iam/rolePolicy:RolePolicy": (p) => [p.policy],
  "aws:iam/userPolicy:UserPolicy": (p) => [p.policy],
  "aws:iam/groupPolicy:GroupPolicy": (p) => [p.policy],
  "aws:iam/role:Role": (p) => asArray<Props>(p.inlinePolicies).map((i) => i.policy),
  "aws:backup/vaultPolicy:VaultPolicy": (p) => [p.policy],
  "aws:s3/bucketPolicy:BucketPolicy": (p) => [p.policy],
};

/** The wildcard actions an Allow statement grants on backup services, e.g. `s3:*`, `backup:Delete*`, `*`. */
export function wildcardBackupActions(s: Statement): string[] {
  if (s.Effect !== "Allow") return [];
  if (s.NotAction !== undefined) return [`NotAction ${JSON.stringify(s.NotAction)}`];
  return asArray(s.Action).filter((a) => {
    if (a === "*") return true;
    const [service, action = ""] = a.toLowerCase().split(":");
    return (BACKUP_SERVICES as readonly string[]).includes(service) && action.includes("*");
  });
}

export function iamWildcardPolicy(): ResourceValidationPolicy {
  return {
    name: "no-wildcard-actions-on-backup-resources",
    description:
      `No IAM, vault or bucket policy allows "*" actions (or wildcards) on ${BACKUP_SERVICES.join(", ")}. ` +
      `KMS key policies are exempt: AWS's default key policy gives the account root kms:* to avoid an ` +
      `unmanageable key.`,
    enforcementLevel: "mandatory",
    validateResource: (args, report) => {
      const read = POLICY_PROPS[args.type];
      if (!read) return;
      for (const doc of read(args.props)) {
        for (const s of statementsOf(doc, args.name)) {
          const bad = wildcardBackupActions(s);
          if (bad.length) report(`${args.name}: allows wildcard actions ${bad.join(", ")}; list the exact actions`);
        }
      }
    },
  };
}
