import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";

export interface EndpointHealthAlarmArgs {
  /** The primary endpoint's Route 53 health check (HTTPS /health). */
  healthCheckId: pulumi.Input<string>;
  /** What the health check watches, for the alarm's description, e.g. api.eventchain.com. */
  recordName: string;
  alarmName?: string;
  /** Topic paged when the endpoint fails its health check and when it recovers; in us-east-1. */
  alarmTopicArn: pulumi.Input<string>;
}

/**
 * Pages when the primary endpoint fails its Route 53 health check: an alarm on
 * `AWS/Route53 HealthCheckStatus` (Minimum < 1 over a minute) notifying the topic. Route 53
 * publishes health-check metrics in us-east-1 only, so this alarm and its topic must be there
 * (the primary stack declares it). The health check moves no traffic: deciding a failover is the
 * on-call's, and `region-failover` moves traffic only once the DR region is ready.
 */
export class EndpointHealthAlarm extends pulumi.ComponentResource {
  readonly alarm: aws.cloudwatch.MetricAlarm;

  constructor(name: string, args: EndpointHealthAlarmArgs, opts?: pulumi.ComponentResourceOptions) {
    super("eventchain:dr:EndpointHealthAlarm", name, {}, opts);
    this.alarm = new aws.cloudwatch.MetricAlarm(
      name,
      {
        name: args.alarmName ?? "EventChain-Primary-EndpointUnhealthy",
        alarmDescription: `The primary endpoint of ${args.recordName} fails its Route 53 health check. Traffic does NOT move by itself: see runbooks/docs/region-failover.md.`,
        namespace: "AWS/Route53",
        metricName: "HealthCheckStatus",
        dimensions: { HealthCheckId: args.healthCheckId },
        statistic: "Minimum",
        period: 60,
        evaluationPeriods: 1,
        threshold: 1,
        comparisonOperator: "LessThanThreshold",
        // No data from Route 53 about the endpoint is itself a reason to look.
        treatMissingData: "breaching",
        actionsEnabled: true,
        alarmActions: [args.alarmTopicArn],
        okActions: [args.alarmTopicArn],
      },
      { parent: this },
    );
    this.registerOutputs({ alarmName: this.alarm.name });
  }
}
