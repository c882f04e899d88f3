/** The stacks' SNS alert topics as notification sinks. */
import { PublishCommand, SNSClient } from "@aws-sdk/client-sns";
import type { StackOutputs } from "../../infra/outputs.ts";
import type { ClientFactory } from "../lib/aws.ts";
import { publishSink, type NotificationSink } from "../lib/notify.ts";
import { withTimeout } from "../lib/time.ts";

/** A region that is down must not hold the runbook up: each publish gets this long. */
const PUBLISH_MS = 10_000;

function topicSink(stack: StackOutputs, clients: ClientFactory): NotificationSink {
  const topicArn = stack.alerts.topicArn;
  const region = topicArn.split(":")[3] || stack.region;
  return publishSink(`sns ${topicArn}`, (Subject, Message) => withTimeout(clients.get(SNSClient, region).send(new PublishCommand({ TopicArn: topicArn, Subject, Message })), PUBLISH_MS, `publish to ${topicArn}`));
}

/**
 * The stack's topic, and the peer stack's too when the runbook loaded it (a failover is announced
 * in the DR region as well, since the primary region's topic may be down with it).
 */
export function snsSinks(outputs: StackOutputs, clients: ClientFactory, peer?: StackOutputs): NotificationSink[] {
  const sinks = [topicSink(outputs, clients)];
  if (peer && peer.alerts.topicArn !== outputs.alerts.topicArn) sinks.push(topicSink(peer, clients));
  return sinks;
}
