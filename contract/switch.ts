/** The failover switch's fixed facts, shared by the dr stack's switch component, the posture model and the runbooks. */
/**
 * The switch (see docs/failover-switch.md): a Route 53 health check of type
 * CLOUDWATCH_METRIC on an alarm in the DR region over this metric, dimension `Record` = the
 * record name. The runbooks write 1 (engage: clients go to the DR region) or 0 (disengage) with
 * PutMetricData in the DR region; the alarm and the health check hold the last state when data
 * stops. Nothing in the Pulumi program writes this metric. Shared by the stack and the runbooks.
 */
export const SWITCH_METRIC = { namespace: "EventChain/Failover", metricName: "TrafficOnDr" } as const;

/** The alarm looks at one standard-resolution minute (Route 53 refuses high-resolution alarms). */
export const SWITCH_PERIOD_SECONDS = 60;
export const SWITCH_EVALUATION_PERIODS = 1;
/** Engaged at or above this value of the metric; the runbooks write 1 (engage) or 0 (disengage). */
export const SWITCH_THRESHOLD = 1;
/**
 * Worst case from PutMetricData to Route 53 answering the other record: the alarm's period(s),
 * up to a minute for CloudWatch to evaluate them, and up to a minute for the Route 53 health
 * checkers to see the new alarm state and the DNS data plane to act on it (estimates, not SLAs:
 * measure them in a game day and update here). The runbooks wait this long plus the record's TTL.
 */
/** The switch alarm's name (one source: the component, the seed and the samples use it). */
export const SWITCH_ALARM_NAME = "EventChain-DR-FailoverSwitch";
export const SWITCH_DETECTION_SECONDS = SWITCH_PERIOD_SECONDS * SWITCH_EVALUATION_PERIODS + 60 + 60;

/**
 * What moves traffic, one name everywhere (config `dns.failoverMode`, output `failover.mode`,
 * `DnsFailoverArgs.failoverMode`): "switch" (default) = the PRIMARY record carries the switch's
 * health check, so only the runbooks move traffic; "automatic" = it carries the endpoint health
 * check, the records fail over by themselves and there is no switch to set or read.
 */
export const FAILOVER_MODES = ["switch", "automatic"] as const;
export type FailoverMode = (typeof FAILOVER_MODES)[number];
