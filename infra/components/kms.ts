import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { policyJson, type Statement } from "./iam.ts";

/** Key administration for the account root, spelled out (no wildcard actions). */
const ADMIN_ACTIONS = [
  "kms:CreateAlias",
  "kms:CreateGrant",
  "kms:DescribeKey",
  "kms:EnableKey",
  "kms:EnableKeyRotation",
  "kms:ListAliases",
  "kms:ListGrants",
  "kms:ListKeyPolicies",
  "kms:ListResourceTags",
  "kms:PutKeyPolicy",
  "kms:UpdateAlias",
  "kms:UpdateKeyDescription",
  "kms:RevokeGrant",
  "kms:RetireGrant",
  "kms:DisableKeyRotation",
  "kms:GetKeyPolicy",
  "kms:GetKeyRotationStatus",
  "kms:TagResource",
  "kms:UntagResource",
  "kms:Encrypt",
  "kms:Decrypt",
  "kms:ReEncryptFrom",
  "kms:ReEncryptTo",
  "kms:GenerateDataKey",
  "kms:GenerateDataKeyWithoutPlaintext",
  "kms:ScheduleKeyDeletion",
  "kms:CancelKeyDeletion",
];

/**
 * A customer-managed, rotating KMS key, protected from `pulumi destroy` (losing it loses every
 * backup it encrypts). With `services`, its policy also lets those AWS service principals use it
 * for this account only; without, it carries the AWS default key policy.
 */
export function customerKey(
  name: string,
  description: string,
  opts: pulumi.CustomResourceOptions,
  access?: { accountId: pulumi.Input<string>; services: string[] },
): aws.kms.Key {
  const policy =
    access &&
    policyJson([
      {
        Sid: "AccountAdministers",
        Effect: "Allow",
        Principal: { AWS: pulumi.interpolate`arn:aws:iam::${access.accountId}:root` },
        Action: ADMIN_ACTIONS,
        Resource: ["*"],
      } as Statement,
      {
        Sid: "ServicesUseForThisAccount",
        Effect: "Allow",
        Principal: { Service: access.services },
        Action: ["kms:GenerateDataKey", "kms:Decrypt"],
        Resource: ["*"],
        Condition: { StringEquals: { "aws:SourceAccount": access.accountId } },
      },
    ]);
  const key = new aws.kms.Key(
    name,
    {
      description,
      enableKeyRotation: true,
      deletionWindowInDays: 30,
      ...(policy ? { policy } : {}),
    },
    { ...opts, protect: true },
  );
  new aws.kms.Alias(`${name}-alias`, { name: `alias/eventchain-dr/${name}`, targetKeyId: key.keyId }, opts);
  return key;
}
