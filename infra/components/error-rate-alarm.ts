import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";

export interface ErrorRateAlarmArgs {
  /** Alarm name, e.g. EventChain-DR-HighErrorRate (the plan's). */
  alarmName: string;
  /** Where the alarm watches, for its description: "DR region", "primary region". */
  where: string;
  /** The load balancer's ARN suffix (`app/<name>/<id>`): the metrics' `LoadBalancer` dimension. */
  loadBalancerArnSuffix: pulumi.Input<string>;
  /** Alarm when more than this percent of requests fail with 5xx over two 5-minute periods. The plan: 5. */
  thresholdPercent: number;
  alarmTopicArn: pulumi.Input<string>;
}

/**
 * The plan's error-rate alarm, one definition for both regions: 100 × target 5XX / requests of
 * the region's load balancer, above the threshold for two 5-minute periods, notifying the
 * region's topic. Missing data (no traffic, e.g. a pilot light) is not breaching. Declared by each
 * stack; the failover runbooks only check that it exists and that its actions are enabled.
 */
export class ErrorRateAlarm extends pulumi.ComponentResource {
  readonly alarm: aws.cloudwatch.MetricAlarm;

  constructor(name: string, args: ErrorRateAlarmArgs, opts?: pulumi.ComponentResourceOptions) {
    super("eventchain:dr:ErrorRateAlarm", name, {}, opts);
    const dimensions = { LoadBalancer: args.loadBalancerArnSuffix };
    const metric = (id: string, metricName: string) => ({
      id,
      metric: { namespace: "AWS/ApplicationELB", metricName, dimensions, period: 300, stat: "Sum" },
    });
    this.alarm = new aws.cloudwatch.MetricAlarm(
      name,
      {
        name: args.alarmName,
        alarmDescription: `High error rate in the ${args.where}: 5xx responses over ${args.thresholdPercent} % of requests for two 5-minute periods`,
        comparisonOperator: "GreaterThanThreshold",
        threshold: args.thresholdPercent,
        evaluationPeriods: 2,
        treatMissingData: "notBreaching",
        actionsEnabled: true,
        alarmActions: [args.alarmTopicArn],
        metricQueries: [
          metric("errors", "HTTPCode_Target_5XX_Count"),
          metric("requests", "RequestCount"),
          { id: "errorRate", expression: "100 * errors / requests", label: "ErrorRate", returnData: true },
        ],
      },
      { parent: this },
    );
    this.registerOutputs({ alarmName: this.alarm.name });
  }
}

/** The `LoadBalancer` dimension of an ALB ARN (`arn:…:loadbalancer/app/<name>/<id>` → `app/<name>/<id>`). */
export function loadBalancerArnSuffix(arn: string): string {
  const suffix = arn.split(":loadbalancer/")[1];
  if (!suffix)
    throw new Error(
      `"${arn}" is not a load balancer ARN: expected arn:aws:elasticloadbalancing:…:loadbalancer/app/<name>/<id>`,
    );
  return suffix;
}
