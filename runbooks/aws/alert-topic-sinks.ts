/** The stacks' SNS alert topics as notification sinks. */
import { CloudWatchClient, PutMetricDataCommand } from "@aws-sdk/client-cloudwatch";
import { PublishCommand, SNSClient } from "@aws-sdk/client-sns";
import { type StackOutputs } from "../../contract/stack-outputs.ts";
import { BACKUP_JOB_ENV, JOB_FAILURE_METRIC, JOB_SUCCESS_METRIC } from "../../contract/jobs.ts";
import type { ClientFactory } from "../lib/aws.ts";
import { publishSink, type NotificationKind, type NotificationSink } from "../lib/notifications.ts";
import { withTimeout } from "../lib/time.ts";

/** A region that is down must not hold the runbook up: each publish gets this long. */
const PUBLISH_MS = 10_000;

function topicSink(stack: StackOutputs, clients: ClientFactory): NotificationSink {
  const topicArn = stack.alerts.topicArn;
  const region = topicArn.split(":")[3] || stack.region;
  return publishSink(`sns ${topicArn}`, (Subject, Message) =>
    withTimeout(
      clients.get(SNSClient, region).send(new PublishCommand({ TopicArn: topicArn, Subject, Message }), {
        abortSignal: AbortSignal.timeout(PUBLISH_MS),
      }),
      PUBLISH_MS,
      `publish to ${topicArn}`,
    ),
  );
}

/**
 * A sink that never holds the run up: each send starts the publish (bounded by its own timeout)
 * and returns at once. A failure is written to `warn` when it happens, not awaited. For a topic in
 * a region that may be down with the incident.
 */
export function backgroundSink(sink: NotificationSink, warn: (m: string) => void): NotificationSink {
  return {
    name: `${sink.name} (in the background)`,
    async send(n) {
      sink.send(n).catch((error: Error) => warn(`notification "${n.kind}" to ${sink.name} failed: ${error.message}`));
    },
  };
}

/**
 * Sinks of region-failover: the DR stack's topic (the region that must work), awaited with its
 * bound; the primary's topic told in the background, so a primary region that hangs delays nothing.
 */
export function failoverSinks(
  outputs: StackOutputs,
  clients: ClientFactory,
  peer?: StackOutputs,
  warn: (m: string) => void = (m) => void process.stderr.write(`warning: ${m}\n`),
): NotificationSink[] {
  const primary = topicSink(outputs, clients);
  if (!peer || peer.alerts.topicArn === outputs.alerts.topicArn) return [backgroundSink(primary, warn)];
  return [topicSink(peer, clients), backgroundSink(primary, warn)];
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

/** Outcomes that count as a failed scheduled job (an unattended job that stops has failed). */
const JOB_FAILURES: ReadonlySet<NotificationKind> = new Set(["failed", "stopped"]);
/** Outcomes of a verified success (a backup runbook succeeds only after its verification steps). */
const JOB_SUCCESSES: ReadonlySet<NotificationKind> = new Set(["succeeded", "objectives_missed"]);

function putJobMetric(
  clients: ClientFactory,
  outputs: StackOutputs,
  job: string,
  metric: { namespace: string; metricName: string },
): Promise<unknown> {
  return withTimeout(
    clients.get(CloudWatchClient, outputs.region).send(
      new PutMetricDataCommand({
        Namespace: metric.namespace,
        MetricData: [
          {
            MetricName: metric.metricName,
            Dimensions: [
              { Name: "Job", Value: job },
              { Name: "Stack", Value: outputs.stack },
            ],
            Value: 1,
            Unit: "Count",
          },
        ],
      }),
    ),
    PUBLISH_MS,
    `put ${metric.metricName} for ${job}`,
  );
}

/**
 * When the runbook runs as a scheduled backup job (`BACKUP_JOB` set by the CronJob or the ECS
 * task), its outcome becomes a metric: a failure publishes `EventChain/Backups JobFailed` = 1 (the
 * job's failure alarm pages at once), a verified success `BackupSucceeded` = 1 (the heartbeat: its
 * alarm pages when none arrives in time). Start and progress publish nothing. Outside a job
 * this adds no sink.
 */
export function jobOutcomeSinks(
  outputs: StackOutputs,
  clients: ClientFactory,
  env: NodeJS.ProcessEnv = process.env,
): NotificationSink[] {
  const job = env[BACKUP_JOB_ENV];
  if (!job) return [];
  return [
    {
      name: `cloudwatch ${JOB_FAILURE_METRIC.namespace} ${JOB_FAILURE_METRIC.metricName}/${JOB_SUCCESS_METRIC.metricName} Job=${job}`,
      async send(n) {
        if (JOB_FAILURES.has(n.kind)) await putJobMetric(clients, outputs, job, JOB_FAILURE_METRIC);
        else if (JOB_SUCCESSES.has(n.kind)) await putJobMetric(clients, outputs, job, JOB_SUCCESS_METRIC);
      },
    },
  ];
}

/** The alert topic, for failures only: successes and starts never page anyone. */
export function topicFailureSink(outputs: StackOutputs, clients: ClientFactory): NotificationSink {
  const topic = topicSink(outputs, clients);
  return {
    name: `${topic.name} (failures only)`,
    async send(n) {
      if (JOB_FAILURES.has(n.kind)) await topic.send(n);
    },
  };
}

/**
 * Sinks of a backup runbook. Run as a scheduled job: only the outcome metrics (nothing goes to
 * the alert topic; a failure reaches it through the job's alarm, once). Run by an operator: the
 * alert topic for failures only (starts and successes are the operator's own to announce, e.g.
 * with SLACK_WEBHOOK_URL).
 */
export function backupJobSinks(
  outputs: StackOutputs,
  clients: ClientFactory,
  _peer?: StackOutputs,
  env: NodeJS.ProcessEnv = process.env,
): NotificationSink[] {
  const job = jobOutcomeSinks(outputs, clients, env);
  return job.length ? job : [topicFailureSink(outputs, clients)];
}
