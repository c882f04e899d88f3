/**
 * Step factory: the region's error-rate alarm is declared by its stack (`ErrorRateAlarm`, one
 * definition for both regions); the runbook only checks that it exists and enables its actions.
 */
import { CloudWatchClient, DescribeAlarmsCommand, EnableAlarmActionsCommand } from "@aws-sdk/client-cloudwatch";
import type { StackOutputs } from "../../contract/stack-outputs.ts";
import type { RunContext, Step, StepRef } from "../lib/types.ts";

/** Which stack a step acts on (the selected one or its peer). */
type StackOf<O> = (ctx: RunContext<O>) => StackOutputs;

interface AlarmResult {
  alarm: string;
  region: string;
  actions: "already enabled" | "enabled by this run";
  notifies: string[];
  [key: string]: unknown;
}

export function enableAlarmStep<O>(p: {
  id: string;
  title: string;
  dependsOn: readonly StepRef<any>[];
  stack: StackOf<O>;
}): Step<O, AlarmResult> {
  const read = async (ctx: RunContext<O>) => {
    const s = p.stack(ctx);
    const res = await ctx
      .aws(CloudWatchClient, s.region)
      .send(new DescribeAlarmsCommand({ AlarmNames: [s.services.errorRateAlarmName] }), {
        abortSignal: ctx.signal,
      });
    const alarm = (res.MetricAlarms ?? []).find((a) => a.AlarmName === s.services.errorRateAlarmName);
    if (!alarm)
      throw new Error(
        `alarm ${s.services.errorRateAlarmName} not found in ${s.region}: the ${s.stack} stack declares it ` +
          `(ErrorRateAlarm); run pulumi up -s ${s.stack} once its state backend answers. The runbook does not ` +
          `create alarms outside Pulumi`,
      );
    return alarm;
  };
  return {
    id: p.id,
    title: p.title,
    dependsOn: p.dependsOn,
    describe: (ctx) => {
      const s = p.stack(ctx);
      return [
        {
          kind: "aws",
          action: `cloudwatch:DescribeAlarms (${s.region})`,
          detail: { AlarmNames: [s.services.errorRateAlarmName] },
        },
        {
          kind: "aws",
          action: `cloudwatch:EnableAlarmActions (${s.region}) if its actions are disabled`,
          detail: { AlarmNames: [s.services.errorRateAlarmName] },
        },
      ];
    },
    async run(ctx) {
      const s = p.stack(ctx);
      const alarm = await read(ctx);
      let actions: AlarmResult["actions"] = "already enabled";
      if (alarm.ActionsEnabled !== true) {
        await ctx
          .aws(CloudWatchClient, s.region)
          .send(new EnableAlarmActionsCommand({ AlarmNames: [s.services.errorRateAlarmName] }), {
            abortSignal: ctx.signal,
          });
        actions = "enabled by this run";
      }
      const notifies = alarm.AlarmActions ?? [];
      if (!notifies.includes(s.alerts.topicArn))
        ctx.log.warn(
          `alarm ${s.services.errorRateAlarmName} does not notify ${s.alerts.topicArn} (it notifies ${notifies.join(", ") || "nothing"})`,
        );
      return { alarm: s.services.errorRateAlarmName, region: s.region, actions, notifies };
    },
    async verify(ctx) {
      const alarm = await read(ctx);
      if (alarm.ActionsEnabled !== true)
        throw new Error(`alarm ${alarm.AlarmName} still has its actions disabled after EnableAlarmActions`);
    },
  };
}
