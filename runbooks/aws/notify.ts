/** The stack's SNS alert topic as a notification sink. */
import { PublishCommand, SNSClient } from "@aws-sdk/client-sns";
import type { StackOutputs } from "../../infra/outputs.ts";
import type { ClientFactory } from "../lib/aws.ts";
import { publishSink, type NotificationSink } from "../lib/notify.ts";

export function snsSinks(outputs: StackOutputs, clients: ClientFactory): NotificationSink[] {
  const topicArn = outputs.alerts.topicArn;
  const region = topicArn.split(":")[3] || outputs.region;
  return [publishSink(`sns ${topicArn}`, (Subject, Message) => clients.get(SNSClient, region).send(new PublishCommand({ TopicArn: topicArn, Subject, Message })))];
}
