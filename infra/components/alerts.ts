import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { policyJson } from "./iam.ts";
import { customerKey } from "./kms.ts";

/** The job states that page someone. Successes never do. */
export const FAILED_JOB_STATES = ["FAILED", "ABORTED", "EXPIRED"] as const;

/** AWS Backup job kinds whose failures alert: backups, cross-region copies, restores (incl. restore tests). */
export const BACKUP_JOB_EVENTS = [
  "Backup Job State Change",
  "Copy Job State Change",
  "Restore Job State Change",
] as const;

export interface AlertsArgs {
  /** E-mail addresses subscribed to the topic (each confirms by mail). Default: none. */
  emails?: string[];
  /** HTTPS endpoints subscribed to the topic (an incident tool's webhook). Default: none. */
  httpsEndpoints?: string[];
  accountId: pulumi.Input<string>;
}

/**
 * The alert topic of a region: SNS encrypted with a customer key that EventBridge, CloudWatch and
 * AWS Backup may use for this account only; the configured subscriptions; and EventBridge rules
 * that forward every FAILED, ABORTED or EXPIRED backup, copy and restore (restore-test) job.
 */
export class Alerts extends pulumi.ComponentResource {
  readonly topic: aws.sns.Topic;
  readonly kmsKey: aws.kms.Key;
  readonly topicArn: pulumi.Output<string>;

  constructor(name: string, args: AlertsArgs, opts?: pulumi.ComponentResourceOptions) {
    super("eventchain:backup:Alerts", name, {}, opts);
    const parent = { parent: this };
    const publishers = ["events.amazonaws.com", "cloudwatch.amazonaws.com", "backup.amazonaws.com"];
    this.kmsKey = customerKey(`${name}-key`, "Backup and recovery alerts", parent, {
      accountId: args.accountId,
      services: publishers,
    });
    this.topic = new aws.sns.Topic(name, { kmsMasterKeyId: this.kmsKey.arn }, parent);
    this.topicArn = this.topic.arn;
    new aws.sns.TopicPolicy(
      `${name}-policy`,
      {
        arn: this.topic.arn,
        policy: policyJson([
          {
            Sid: "ServicesPublishForThisAccount",
            Effect: "Allow",
            Principal: { Service: publishers },
            Action: ["sns:Publish"],
            Resource: [this.topic.arn],
            Condition: { StringEquals: { "aws:SourceAccount": args.accountId } },
          },
        ]),
      },
      parent,
    );
    (args.emails ?? []).forEach(
      (endpoint, i) =>
        new aws.sns.TopicSubscription(
          `${name}-email-${i}`,
          { topic: this.topic.arn, protocol: "email", endpoint },
          parent,
        ),
    );
    (args.httpsEndpoints ?? []).forEach(
      (endpoint, i) =>
        new aws.sns.TopicSubscription(
          `${name}-https-${i}`,
          { topic: this.topic.arn, protocol: "https", endpoint },
          parent,
        ),
    );
    for (const detailType of BACKUP_JOB_EVENTS) {
      const slug = detailType.split(" ")[0].toLowerCase();
      this.forward(`${name}-${slug}-job-failed`, `AWS Backup ${slug} job failed, aborted or expired`, {
        source: ["aws.backup"],
        "detail-type": [detailType],
        detail: { state: [...FAILED_JOB_STATES] },
      });
    }
    this.registerOutputs({ topicArn: this.topicArn });
  }

  /** An EventBridge rule that sends matching events to the topic. */
  forward(name: string, description: string, pattern: Record<string, unknown>): aws.cloudwatch.EventRule {
    const rule = new aws.cloudwatch.EventRule(
      name,
      { description, eventPattern: JSON.stringify(pattern) },
      { parent: this },
    );
    new aws.cloudwatch.EventTarget(`${name}-to-topic`, { rule: rule.name, arn: this.topic.arn }, { parent: this });
    return rule;
  }
}
