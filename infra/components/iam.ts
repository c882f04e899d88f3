import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";

/** An IAM policy statement in the JSON form AWS reads (so tests can inspect it as declared). */
export interface Statement {
  Sid?: string;
  Effect: "Allow" | "Deny";
  Principal?: Record<string, pulumi.Input<string | pulumi.Input<string>[]>> | "*";
  Action: string[];
  Resource?: pulumi.Input<pulumi.Input<string>[]>;
  Condition?: Record<string, Record<string, pulumi.Input<string | pulumi.Input<string>[]>>>;
}

/** A policy document as JSON text. */
export function policyJson(statements: Statement[]): pulumi.Output<string> {
  return pulumi.jsonStringify({ Version: "2012-10-17", Statement: statements });
}

/** Trust policy for an AWS service, limited to this account (confused-deputy guard). */
export function serviceTrust(service: string, accountId: pulumi.Input<string>): pulumi.Output<string> {
  return policyJson([
    {
      Effect: "Allow",
      Principal: { Service: service },
      Action: ["sts:AssumeRole"],
      Condition: { StringEquals: { "aws:SourceAccount": accountId } },
    },
  ]);
}

/** A role a service assumes, with one inline policy. */
export function serviceRole(
  name: string,
  service: string,
  accountId: pulumi.Input<string>,
  statements: Statement[],
  opts: pulumi.CustomResourceOptions,
  managedPolicyArns: string[] = [],
): aws.iam.Role {
  const role = new aws.iam.Role(name, { assumeRolePolicy: serviceTrust(service, accountId) }, opts);
  if (statements.length > 0) {
    new aws.iam.RolePolicy(`${name}-policy`, { role: role.id, policy: policyJson(statements) }, opts);
  }
  managedPolicyArns.forEach(
    (arn, i) => new aws.iam.RolePolicyAttachment(`${name}-managed-${i}`, { role: role.name, policyArn: arn }, opts),
  );
  return role;
}

/** The statement every bucket carries: refuse any request not made over TLS. */
export function denyInsecureTransport(bucketArn: pulumi.Input<string>): Statement {
  return {
    Sid: "DenyInsecureTransport",
    Effect: "Deny",
    Principal: "*",
    Action: ["s3:*"],
    Resource: [bucketArn, pulumi.interpolate`${bucketArn}/*`],
    Condition: { Bool: { "aws:SecureTransport": "false" } },
  };
}
