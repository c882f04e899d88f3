/**
 * What an SNS topic in moto delivered: an SQS queue subscribed to the topic (moto delivers
 * SNS → SQS synchronously), read back. "Nothing was published" is then the queue's state, not a
 * mock's call count.
 */
import { CreateQueueCommand, GetQueueAttributesCommand, ReceiveMessageCommand, SQSClient } from "@aws-sdk/client-sqs";
import { SNSClient, SubscribeCommand } from "@aws-sdk/client-sns";

export interface TopicInbox {
  /** Every message delivered so far (subjects), draining the queue. */
  subjects(): Promise<string[]>;
}

export async function topicInbox(endpoint: string, topicArn: string): Promise<TopicInbox> {
  const region = topicArn.split(":")[3]!;
  const sqs = new SQSClient({ region, endpoint, maxAttempts: 1 });
  const name = `inbox-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: name }));
  const attrs = await sqs.send(new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ["QueueArn"] }));
  await new SNSClient({ region, endpoint, maxAttempts: 1 }).send(
    new SubscribeCommand({ TopicArn: topicArn, Protocol: "sqs", Endpoint: attrs.Attributes!.QueueArn! }),
  );
  const seen: string[] = [];
  return {
    async subjects() {
      for (;;) {
        const r = await sqs.send(new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0 }));
        if (!r.Messages?.length) return [...seen];
        for (const m of r.Messages) seen.push((JSON.parse(m.Body ?? "{}") as { Subject?: string }).Subject ?? "");
      }
    },
  };
}
