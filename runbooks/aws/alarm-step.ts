/** Step factory: ensure the region's error-rate alarm (ALB 5XX) notifying the stack's topic. */
import { CloudWatchClient, DescribeAlarmsCommand, PutMetricAlarmCommand } from "@aws-sdk/client-cloudwatch";
import { DescribeLoadBalancersCommand, ElasticLoadBalancingV2Client } from "@aws-sdk/client-elastic-load-balancing-v2";
import type { StackOutputs } from "../../infra/outputs.ts";
import type { RunContext, Step, StepRef } from "../lib/types.ts";

/** Which stack a step acts on (the selected one or its peer). */
type StackOf<O> = (ctx: RunContext<O>) => StackOutputs;

/** The region's load-balancer 5XX alarm, notifying the stack's topic. */
export function alarmStep<O>(p: {
  id: string;
  title: string;
  dependsOn: readonly StepRef<any>[];
  stack: StackOf<O>;
}): Step<O> {
  const exists = async (ctx: RunContext<O>) => {
    const s = p.stack(ctx);
    const res = await ctx
      .aws(CloudWatchClient, s.region)
      .send(new DescribeAlarmsCommand({ AlarmNames: [s.services.errorRateAlarmName] }));
    return (res.MetricAlarms ?? []).length > 0;
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
          action: `cloudwatch:PutMetricAlarm (${s.region})`,
          detail: {
            AlarmName: s.services.errorRateAlarmName,
            MetricName: "HTTPCode_Target_5XX_Count",
            LoadBalancer: s.services.loadBalancerDnsName,
            AlarmActions: [s.alerts.topicArn],
          },
        },
      ];
    },
    isDone: async (ctx) => ((await exists(ctx)) ? { alarm: p.stack(ctx).services.errorRateAlarmName } : false),
    async run(ctx) {
      const s = p.stack(ctx);
      const lbs = await ctx.aws(ElasticLoadBalancingV2Client, s.region).send(new DescribeLoadBalancersCommand({}));
      const lb = lbs.LoadBalancers?.find(
        (l) => l.DNSName?.toLowerCase() === s.services.loadBalancerDnsName.toLowerCase(),
      );
      if (!lb?.LoadBalancerArn)
        throw new Error(`load balancer ${s.services.loadBalancerDnsName} not found in ${s.region}`);
      const dimension = lb.LoadBalancerArn.split(":loadbalancer/")[1]!;
      await ctx.aws(CloudWatchClient, s.region).send(
        new PutMetricAlarmCommand({
          AlarmName: s.services.errorRateAlarmName,
          AlarmDescription: `High 5XX rate on ${s.services.loadBalancerDnsName} (${s.region}); created by ${ctx.runbook} run ${ctx.runId}`,
          Namespace: "AWS/ApplicationELB",
          MetricName: "HTTPCode_Target_5XX_Count",
          Dimensions: [{ Name: "LoadBalancer", Value: dimension }],
          Statistic: "Sum",
          Period: 300,
          EvaluationPeriods: 2,
          Threshold: 25,
          ComparisonOperator: "GreaterThanThreshold",
          TreatMissingData: "notBreaching",
          AlarmActions: [s.alerts.topicArn],
        }),
      );
      return { alarm: s.services.errorRateAlarmName, loadBalancer: dimension };
    },
    async verify(ctx) {
      if (!(await exists(ctx)))
        throw new Error(`alarm ${p.stack(ctx).services.errorRateAlarmName} not found after PutMetricAlarm`);
    },
  };
}
