/**
 * Step factories shared by region-failover, failback, service-recovery and database-recovery:
 * scale services, wait for target health, move DNS, ensure the error-rate alarm, repoint the
 * application's connection secret. Each is idempotent (`isDone`) and describes its calls.
 */
import { CloudWatchClient, DescribeAlarmsCommand, PutMetricAlarmCommand } from "@aws-sdk/client-cloudwatch";
import { ECSClient } from "@aws-sdk/client-ecs";
import { DescribeLoadBalancersCommand, ElasticLoadBalancingV2Client } from "@aws-sdk/client-elastic-load-balancing-v2";
import { Route53Client } from "@aws-sdk/client-route-53";
import { GetSecretValueCommand, PutSecretValueCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import type { StackOutputs } from "../../infra/outputs.ts";
import type { RunContext, Step, StepOutputs } from "../lib/types.ts";
import { applyRecord, describeUpsert, getFailoverRecord, pointsAt, recordValue, upsertRecord } from "./dns.ts";
import type { WaitOptions } from "./options.ts";
import { describeServices, setDesiredCount, waitStable, waitTargetsHealthy } from "./services.ts";

type Pick<O> = (ctx: RunContext<O>) => StackOutputs;

/** Sets each service's desired count to its recovery count (side by side), then waits for stability. */
export function scaleServicesStep<O extends WaitOptions>(p: { id: string; title: string; dependsOn?: string[]; stack: Pick<O> }): Step<O> {
  return {
    id: p.id,
    title: p.title,
    ...(p.dependsOn ? { dependsOn: p.dependsOn } : {}),
    describe: (ctx) => {
      const s = p.stack(ctx);
      return [
        ...s.services.services.map((svc) => ({ kind: "aws" as const, action: `ecs:UpdateService (${s.region})`, detail: { cluster: s.services.clusterName, service: svc.name, desiredCount: svc.recoveryCount } })),
        { kind: "aws", action: `ecs:waitUntilServicesStable (${s.region})`, detail: { services: s.services.services.map((x) => x.name), maxWaitMinutes: ctx.options.maxWaitMinutes } },
      ];
    },
    async isDone(ctx) {
      const s = p.stack(ctx);
      const live = await describeServices(ctx.aws(ECSClient, s.region), s.services.clusterName, s.services.services.map((x) => x.name));
      const ok = s.services.services.every((svc) => {
        const l = live.find((x) => x.serviceName === svc.name);
        return l && (l.desiredCount ?? 0) >= svc.recoveryCount && (l.runningCount ?? 0) >= svc.recoveryCount;
      });
      return ok ? { services: live.map((l) => ({ name: l.serviceName, desiredCount: l.desiredCount, runningCount: l.runningCount })) } : false;
    },
    async run(ctx) {
      const s = p.stack(ctx);
      const ecs = ctx.aws(ECSClient, s.region);
      await Promise.all(s.services.services.map((svc) => setDesiredCount(ecs, s.services.clusterName, svc.name, svc.recoveryCount)));
      await ctx.wait(`services in ${s.services.clusterName} to become stable`, () => waitStable(ecs, s.services.clusterName, s.services.services.map((x) => x.name), ctx.options.maxWaitMinutes));
      const live = await describeServices(ecs, s.services.clusterName, s.services.services.map((x) => x.name));
      return { services: live.map((l) => ({ name: l.serviceName, desiredCount: l.desiredCount, runningCount: l.runningCount })) };
    },
    async verify(ctx) {
      const s = p.stack(ctx);
      const live = await describeServices(ctx.aws(ECSClient, s.region), s.services.clusterName, s.services.services.map((x) => x.name));
      const short = s.services.services.filter((svc) => (live.find((l) => l.serviceName === svc.name)?.desiredCount ?? 0) < svc.recoveryCount);
      if (short.length) throw new Error(`desired count below recovery count for ${short.map((x) => x.name).join(", ")}`);
    },
  };
}

/** Every service's target group has a healthy target (retries with backoff). */
export function verifyTargetsStep<O extends WaitOptions>(p: { id: string; title: string; dependsOn?: string[]; stack: Pick<O>; milestone?: string }): Step<O> {
  return {
    id: p.id,
    title: p.title,
    ...(p.dependsOn ? { dependsOn: p.dependsOn } : {}),
    ...(p.milestone ? { milestone: p.milestone } : {}),
    describe: (ctx) => p.stack(ctx).services.services.map((svc) => ({ kind: "aws" as const, action: `elbv2:DescribeTargetHealth (${p.stack(ctx).region})`, detail: { TargetGroupArn: svc.targetGroupArn, attempts: ctx.options.healthAttempts } })),
    async run(ctx) {
      const s = p.stack(ctx);
      const health = await ctx.wait("healthy targets", () => waitTargetsHealthy(ctx.aws(ElasticLoadBalancingV2Client, s.region), s.services.services.map((x) => x.targetGroupArn), ctx.options.healthAttempts));
      return { targets: health.map((h) => ({ targetGroupArn: h.targetGroupArn, healthy: h.healthy, total: h.total })) };
    },
  };
}

/** UPSERTs the PRIMARY failover record to `target` (with or without its health check) and verifies it. */
export function moveDnsStep<O extends WaitOptions>(p: { id: string; title: string; dependsOn?: string[]; target: (ctx: RunContext<O>) => { value: string; healthCheckId: string | undefined } }): Step<O> {
  const dnsOf = (ctx: RunContext<O>) => ctx.outputs.dns;
  const record = (ctx: RunContext<O>) => {
    const t = p.target(ctx);
    return upsertRecord(dnsOf(ctx), dnsOf(ctx).primarySetIdentifier, "PRIMARY", t.value, t.healthCheckId);
  };
  const r53 = (ctx: RunContext<O>) => ctx.aws(Route53Client, "us-east-1");
  return {
    id: p.id,
    title: p.title,
    movesTraffic: true,
    milestone: "traffic_moved",
    ...(p.dependsOn ? { dependsOn: p.dependsOn } : {}),
    describe: (ctx) => [describeUpsert(dnsOf(ctx), record(ctx)), { kind: "aws", action: "route53:waitUntilResourceRecordSetsChanged", detail: { maxWaitMinutes: ctx.options.maxWaitMinutes } }],
    async isDone(ctx) {
      const current = await getFailoverRecord(r53(ctx), dnsOf(ctx), dnsOf(ctx).primarySetIdentifier);
      const t = p.target(ctx);
      return pointsAt(current, t.value) && (current?.HealthCheckId ?? undefined) === t.healthCheckId ? { record: dnsOf(ctx).recordName, value: recordValue(current) } : false;
    },
    async run(ctx) {
      const before = recordValue(await getFailoverRecord(r53(ctx), dnsOf(ctx), dnsOf(ctx).primarySetIdentifier));
      await ctx.wait("Route 53 change to be INSYNC", () => applyRecord(r53(ctx), dnsOf(ctx), record(ctx), `${ctx.runbook} run ${ctx.runId}`, ctx.options.maxWaitMinutes));
      return { record: dnsOf(ctx).recordName, previous: before ?? null, value: p.target(ctx).value };
    },
    async verify(ctx) {
      const current = await getFailoverRecord(r53(ctx), dnsOf(ctx), dnsOf(ctx).primarySetIdentifier);
      if (!pointsAt(current, p.target(ctx).value)) throw new Error(`${dnsOf(ctx).recordName} (${dnsOf(ctx).primarySetIdentifier}) answers ${recordValue(current) ?? "nothing"}, expected ${p.target(ctx).value}`);
    },
  };
}

/** The region's load-balancer 5XX alarm, notifying the stack's topic. */
export function alarmStep<O>(p: { id: string; title: string; dependsOn?: string[]; stack: Pick<O> }): Step<O> {
  const exists = async (ctx: RunContext<O>) => {
    const s = p.stack(ctx);
    const res = await ctx.aws(CloudWatchClient, s.region).send(new DescribeAlarmsCommand({ AlarmNames: [s.services.errorRateAlarmName] }));
    return (res.MetricAlarms ?? []).length > 0;
  };
  return {
    id: p.id,
    title: p.title,
    ...(p.dependsOn ? { dependsOn: p.dependsOn } : {}),
    describe: (ctx) => {
      const s = p.stack(ctx);
      return [{ kind: "aws", action: `cloudwatch:PutMetricAlarm (${s.region})`, detail: { AlarmName: s.services.errorRateAlarmName, MetricName: "HTTPCode_Target_5XX_Count", LoadBalancer: s.services.loadBalancerDnsName, AlarmActions: [s.alerts.topicArn] } }];
    },
    isDone: async (ctx) => ((await exists(ctx)) ? { alarm: p.stack(ctx).services.errorRateAlarmName } : false),
    async run(ctx) {
      const s = p.stack(ctx);
      const lbs = await ctx.aws(ElasticLoadBalancingV2Client, s.region).send(new DescribeLoadBalancersCommand({}));
      const lb = lbs.LoadBalancers?.find((l) => l.DNSName?.toLowerCase() === s.services.loadBalancerDnsName.toLowerCase());
      if (!lb?.LoadBalancerArn) throw new Error(`load balancer ${s.services.loadBalancerDnsName} not found in ${s.region}`);
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
      if (!(await exists(ctx))) throw new Error(`alarm ${p.stack(ctx).services.errorRateAlarmName} not found after PutMetricAlarm`);
    },
  };
}

/** Parses the app connection secret (JSON with host, port, dbname, …). */
export async function readConnectionSecret(sm: SecretsManagerClient, arn: string): Promise<Record<string, unknown>> {
  const res = await sm.send(new GetSecretValueCommand({ SecretId: arn }));
  try {
    const v = JSON.parse(res.SecretString ?? "{}");
    if (typeof v !== "object" || v === null) throw new Error("not an object");
    return v as Record<string, unknown>;
  } catch {
    throw new Error(`connection secret ${arn} is not a JSON object (value not shown)`);
  }
}

/**
 * Points the application's connection secret at a database (host/port; other keys kept).
 * The secret holds no password (RDS manages that one); values are still never logged.
 */
export function pointSecretStep<O>(p: {
  id: string;
  title: string;
  dependsOn?: string[];
  movesTraffic?: boolean;
  secret: (ctx: RunContext<O>) => { arn: string; region: string };
  database: (ctx: RunContext<O>) => { host: string; port: number } | undefined;
  after?: (ctx: RunContext<O>) => Promise<StepOutputs>;
}): Step<O> {
  const current = async (ctx: RunContext<O>) => {
    const s = p.secret(ctx);
    return readConnectionSecret(ctx.aws(SecretsManagerClient, s.region), s.arn);
  };
  return {
    id: p.id,
    title: p.title,
    ...(p.movesTraffic ? { movesTraffic: true } : {}),
    ...(p.dependsOn ? { dependsOn: p.dependsOn } : {}),
    describe: (ctx) => [{ kind: "aws", action: `secretsmanager:PutSecretValue (${p.secret(ctx).region})`, detail: { SecretId: p.secret(ctx).arn, set: { host: p.database(ctx)?.host ?? "<restored instance address>", port: p.database(ctx)?.port ?? "<port>" } } }],
    async isDone(ctx) {
      const db = p.database(ctx);
      const v = await current(ctx);
      return db && v.host === db.host && Number(v.port) === db.port ? { host: db.host, port: db.port } : false;
    },
    async run(ctx) {
      const db = p.database(ctx);
      if (!db) throw new Error("no database address to point the application at");
      const s = p.secret(ctx);
      const v = await current(ctx);
      await ctx.aws(SecretsManagerClient, s.region).send(new PutSecretValueCommand({ SecretId: s.arn, SecretString: JSON.stringify({ ...v, host: db.host, port: db.port }) }));
      const extra = p.after ? await p.after(ctx) : {};
      return { secret: s.arn, host: db.host, port: db.port, previousHost: typeof v.host === "string" ? v.host : null, ...extra };
    },
    async verify(ctx) {
      const db = p.database(ctx)!;
      const v = await current(ctx);
      if (v.host !== db.host) throw new Error(`secret ${p.secret(ctx).arn} still names another host after the update`);
    },
  };
}

