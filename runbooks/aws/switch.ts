/**
 * The failover switch (infra/components/failover-switch.ts, docs/failover-switch.md), through
 * CloudWatch in the DR region only: PutMetricData writes the position (1 = clients to DR, 0 =
 * clients to the primary), DescribeAlarms reads the alarm the Route 53 health check watches.
 * Neither is a Route 53 or primary-region call.
 */
import {
  CloudWatchClient,
  DescribeAlarmsCommand,
  PutMetricDataCommand,
  type MetricAlarm,
} from "@aws-sdk/client-cloudwatch";
import type { FailoverOutputs, StackOutputs } from "../../contract/stack-outputs.ts";
import type { PlannedAction, RunContext } from "../lib/types.ts";
import { formatSeconds } from "./bounded.ts";
import { pause } from "./pause.ts";

export type SwitchSpec = FailoverOutputs["switch"];
export type SwitchPosition = "engaged" | "disengaged";

/** The alarm state each position shows once CloudWatch has evaluated the written value. */
const STATE: Record<SwitchPosition, string> = { engaged: "ALARM", disengaged: "OK" };
/** The value written for each position (the alarm compares it with `threshold`). */
export const valueFor = (sw: SwitchSpec, position: SwitchPosition) => (position === "engaged" ? sw.threshold : 0);

/** The switch alarm as CloudWatch reports it; throws when it does not exist. */
export async function switchAlarm(
  cw: CloudWatchClient,
  sw: SwitchSpec,
  abortSignal?: AbortSignal,
): Promise<MetricAlarm> {
  const res = await cw.send(
    new DescribeAlarmsCommand({ AlarmNames: [sw.alarmName] }),
    abortSignal ? { abortSignal } : {},
  );
  const alarm = res.MetricAlarms?.find((a) => a.AlarmName === sw.alarmName);
  if (!alarm)
    throw new Error(
      `the failover switch alarm ${sw.alarmName} does not exist in ${sw.region}: it is declared by the dr stack (FailoverSwitch); deploy it before relying on it`,
    );
  return alarm;
}

/** Where the switch stands by its alarm: ALARM engaged, OK disengaged, otherwise holding its last position. */
export function positionOf(alarm: MetricAlarm): SwitchPosition | "holding" {
  return alarm.StateValue === "ALARM" ? "engaged" : alarm.StateValue === "OK" ? "disengaged" : "holding";
}

/**
 * The switch the runbooks set and read for `outputs`, or null in failover mode `automatic`
 * (contract/switch.ts), where the records fail over on the endpoint health check by themselves.
 * The one place the mode is branched on: every step asks this.
 */
export function switchOf(outputs: StackOutputs): SwitchSpec | null {
  return outputs.failover.mode === "automatic" ? null : outputs.failover.switch;
}

/** The health check the PRIMARY record carries: the switch's, or in automatic mode the endpoint's. */
export function routingHealthCheckId(outputs: StackOutputs, endpointHealthCheckId: string): string {
  return switchOf(outputs)?.healthCheckId ?? endpointHealthCheckId;
}

/** What a stack with failover mode `automatic` has instead of a switch to read. */
export const NO_SWITCH = "none (failover mode automatic)";

/** Where the stack's failover switch points now ({@link NO_SWITCH} when it has none); throws when it cannot be read. */
export async function readSwitchPosition(
  ctx: RunContext<unknown>,
  outputs: StackOutputs,
): Promise<SwitchPosition | "holding" | typeof NO_SWITCH> {
  const sw = switchOf(outputs);
  if (!sw) return NO_SWITCH;
  return positionOf(await switchAlarm(ctx.aws(CloudWatchClient, sw.region), sw, ctx.signal));
}

export async function writeSwitch(cw: CloudWatchClient, sw: SwitchSpec, value: number, abortSignal?: AbortSignal) {
  await cw.send(
    new PutMetricDataCommand({
      Namespace: sw.namespace,
      MetricData: [
        {
          MetricName: sw.metricName,
          Dimensions: sw.dimensions.map((d) => ({ Name: d.name, Value: d.value })),
          Value: value,
          Unit: "Count",
          Timestamp: new Date(),
        },
      ],
    }),
    abortSignal ? { abortSignal } : {},
  );
}

export interface SwitchResult {
  position: SwitchPosition;
  alarm: string;
  region: string;
  /** When the alarm first showed the new position (ISO). */
  alarmAt: string;
  writes: number;
}

/**
 * Writes the position and waits (polling with backoff, re-writing the value every `rewriteMs` so a
 * minute with an older value cannot hold it back) until the alarm shows it, at most `boundMs`.
 */
export async function setSwitch(
  cw: CloudWatchClient,
  sw: SwitchSpec,
  position: SwitchPosition,
  boundMs: number,
  signal?: AbortSignal,
  rewriteMs = 30_000,
): Promise<SwitchResult> {
  const deadline = Date.now() + boundMs;
  const value = valueFor(sw, position);
  let writes = 0;
  let lastWrite = 0;
  let delay = 500;
  let state = "unknown";
  for (;;) {
    if (Date.now() - lastWrite >= rewriteMs || writes === 0) {
      await writeSwitch(cw, sw, value, signal);
      writes++;
      lastWrite = Date.now();
    }
    const alarm = await switchAlarm(cw, sw, signal);
    state = alarm.StateValue ?? "unknown";
    if (state === STATE[position])
      return { position, alarm: sw.alarmName, region: sw.region, alarmAt: new Date().toISOString(), writes };
    if (Date.now() + delay > deadline) break;
    await pause(delay, signal);
    delay = Math.min(delay * 2, 10_000);
  }
  throw new Error(
    `the failover switch alarm ${sw.alarmName} (${sw.region}) is still ${state} ` +
      `${formatSeconds(boundMs)} after writing ${sw.namespace}/${sw.metricName} = ${value} (${writes} ` +
      `write(s)); expected ${STATE[position]}. Check the alarm in the CloudWatch console of ${sw.region}, ` +
      `then resume`,
  );
}

/** Planned actions of `setSwitch`. */
export function describeSwitch(sw: SwitchSpec, position: SwitchPosition, boundSeconds: number): PlannedAction[] {
  return [
    {
      kind: "aws",
      action: `cloudwatch:PutMetricData (${sw.region})`,
      detail: {
        Namespace: sw.namespace,
        MetricName: sw.metricName,
        Dimensions: sw.dimensions,
        Value: valueFor(sw, position),
      },
    },
    {
      kind: "aws",
      action: `cloudwatch:DescribeAlarms (${sw.region}) until ${STATE[position]}`,
      detail: { AlarmName: sw.alarmName, boundSeconds },
    },
  ];
}
