import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import {
  SWITCH_ALARM_NAME,
  SWITCH_DETECTION_SECONDS,
  SWITCH_EVALUATION_PERIODS,
  SWITCH_METRIC,
  SWITCH_PERIOD_SECONDS,
  SWITCH_THRESHOLD,
} from "../../contract/switch.ts";

export interface FailoverSwitchArgs {
  /** The name the switch moves, e.g. api.eventchain.com: the metric's `Record` dimension. */
  recordName: string;
  /** Alarm name. Default `SWITCH_ALARM_NAME` (EventChain-DR-FailoverSwitch). */
  alarmName?: string;
  /** Region of the alarm: the provider's region, which must be the DR region. */
  region: string;
  /** Topic told (by CloudWatch, asynchronously) when the switch engages and disengages. */
  alarmTopicArn: pulumi.Input<string>;
}

/**
 * The latched failover switch, on data planes only (docs/failover-switch.md): a CloudWatch alarm
 * in the DR region over `EventChain/Failover TrafficOnDr` (Maximum ≥ 1 over one minute), and a
 * Route 53 health check of type CLOUDWATCH_METRIC on it, which the PRIMARY record carries. The
 * runbooks engage it by writing 1 with PutMetricData in the DR region (alarm ALARM → health check
 * unhealthy → Route 53 answers the SECONDARY record) and disengage it by writing 0. It holds when
 * data stops: the alarm ignores missing data (keeps its state) and the health check keeps its last
 * known status when the alarm has insufficient data (e.g. a re-created alarm). Nothing this program
 * declares writes the metric or sets the alarm's state, and updating an alarm leaves its state as
 * it is, so `pulumi up` never undoes an engaged switch.
 */
export class FailoverSwitch extends pulumi.ComponentResource {
  readonly alarm: aws.cloudwatch.MetricAlarm;
  readonly healthCheck: aws.route53.HealthCheck;
  readonly dimensions: { name: string; value: string }[];
  readonly detectionSeconds = SWITCH_DETECTION_SECONDS;

  constructor(name: string, args: FailoverSwitchArgs, opts?: pulumi.ComponentResourceOptions) {
    super("eventchain:dr:FailoverSwitch", name, {}, opts);
    const parent = { parent: this };
    this.dimensions = [{ name: "Record", value: args.recordName }];
    this.alarm = new aws.cloudwatch.MetricAlarm(
      `${name}-alarm`,
      {
        name: args.alarmName ?? SWITCH_ALARM_NAME,
        alarmDescription: `Failover switch of ${args.recordName}: ALARM = clients are sent to the DR region. Only the region-failover and failback runbooks write ${SWITCH_METRIC.namespace}/${SWITCH_METRIC.metricName}; see docs/failover-switch.md.`,
        namespace: SWITCH_METRIC.namespace,
        metricName: SWITCH_METRIC.metricName,
        dimensions: Object.fromEntries(this.dimensions.map((d) => [d.name, d.value])),
        statistic: "Maximum",
        period: SWITCH_PERIOD_SECONDS,
        evaluationPeriods: SWITCH_EVALUATION_PERIODS,
        threshold: SWITCH_THRESHOLD,
        comparisonOperator: "GreaterThanOrEqualToThreshold",
        // The latch: with no new data the alarm keeps its state.
        treatMissingData: "ignore",
        actionsEnabled: true,
        alarmActions: [args.alarmTopicArn],
        okActions: [args.alarmTopicArn],
      },
      { ...parent, protect: true },
    );
    this.healthCheck = new aws.route53.HealthCheck(
      `${name}-health`,
      {
        type: "CLOUDWATCH_METRIC",
        cloudwatchAlarmName: this.alarm.name,
        cloudwatchAlarmRegion: args.region,
        // A re-created alarm starts with insufficient data: keep the switch where it was.
        insufficientDataHealthStatus: "LastKnownStatus",
        tags: { Name: `${args.recordName} failover switch` },
      },
      { ...parent, protect: true },
    );
    this.registerOutputs({ alarmName: this.alarm.name, healthCheckId: this.healthCheck.id });
  }
}
