import test from "ava";
import { committedStacks, ofType, only } from "../helpers/pulumi-mocks.ts";

test("the primary is health-checked over HTTPS on /health every 30 s, failing after 3", async (t) => {
  const { dr } = await committedStacks();
  const check = only(dr, "aws:route53/healthCheck:HealthCheck");
  t.like(check.inputs, {
    type: "HTTPS",
    fqdn: "eventchain-prod-alb.us-east-1.elb.amazonaws.com",
    port: 443,
    resourcePath: "/health",
    requestInterval: 30,
    failureThreshold: 3,
  });
  t.is(dr.outputs.dns.primaryHealthCheckId, check.id ?? "missing id");
});

test("the API name has PRIMARY and SECONDARY failover records with TTL 60", async (t) => {
  const { dr } = await committedStacks();
  const records = Object.fromEntries(
    ofType(dr, "aws:route53/record:Record").map((r) => [r.inputs.failoverRoutingPolicies[0].type, r.inputs]),
  );
  t.deepEqual(Object.keys(records).sort(), ["PRIMARY", "SECONDARY"]);
  for (const record of Object.values(records))
    t.like(record, { name: "api.eventchain.com", type: "CNAME", ttl: 60, zoneId: "Z0123456789EVENTCHAIN" });
  t.like(records.PRIMARY, {
    setIdentifier: "primary",
    records: ["eventchain-prod-alb.us-east-1.elb.amazonaws.com"],
    healthCheckId: dr.outputs.dns.primaryHealthCheckId,
  });
  t.like(records.SECONDARY, { setIdentifier: "secondary", records: [dr.outputs.services.loadBalancerDnsName] });
  t.is(records.SECONDARY.healthCheckId, undefined);
});

test("the pilot-light services stand at 0 and export their recovery counts", async (t) => {
  const { dr } = await committedStacks();
  const services = ofType(dr, "aws:ecs/service:Service");
  t.deepEqual(
    services.map((s) => [s.inputs.name, s.inputs.desiredCount]),
    [
      ["eventchain-backend-dr", 0],
      ["eventchain-frontend-dr", 0],
    ],
  );
  t.deepEqual(
    dr.outputs.services.services.map((s) => [s.name, s.recoveryCount]),
    [
      ["eventchain-backend-dr", 3],
      ["eventchain-frontend-dr", 2],
    ],
  );
  t.is(dr.outputs.services.clusterName, "eventchain-dr");
  for (const s of services) {
    t.deepEqual(s.ignoreChanges, ["desiredCount"], "a pulumi up after a failover must not scale DR back to 0");
    t.false(s.inputs.networkConfiguration.assignPublicIp);
    t.is(s.inputs.networkConfiguration.securityGroups.length, 1);
  }
  const tgArns = dr.outputs.services.services.map((s) => s.targetGroupArn);
  t.deepEqual(
    services.map((s) => s.inputs.loadBalancers[0].targetGroupArn),
    tgArns,
  );
});

test("the DR load balancer serves HTTPS only and redirects HTTP", async (t) => {
  const { dr } = await committedStacks();
  const listeners = Object.fromEntries(ofType(dr, "aws:lb/listener:Listener").map((l) => [l.inputs.port, l.inputs]));
  t.like(listeners[443], { protocol: "HTTPS", sslPolicy: "ELBSecurityPolicy-TLS13-1-2-2021-06" });
  t.regex(listeners[443].certificateArn, /^arn:aws:acm:us-west-2:/);
  t.deepEqual(listeners[80].defaultActions[0].redirect, { protocol: "HTTPS", port: "443", statusCode: "HTTP_301" });
});

test("the plan's DR error-rate alarm watches 5xx over two 5-minute periods above 5 %", async (t) => {
  const { dr } = await committedStacks();
  const alarm = only(dr, "aws:cloudwatch/metricAlarm:MetricAlarm", /error-rate$/).inputs;
  t.like(alarm, {
    name: "EventChain-DR-HighErrorRate",
    threshold: 5,
    evaluationPeriods: 2,
    comparisonOperator: "GreaterThanThreshold",
  });
  t.deepEqual(
    alarm.metricQueries.filter((q: any) => q.metric).map((q: any) => q.metric.period),
    [300, 300],
  );
  t.is(alarm.metricQueries.find((q: any) => q.returnData).expression, "100 * errors / requests");
  t.deepEqual(alarm.alarmActions, [dr.outputs.alerts.topicArn]);
  t.is(dr.outputs.services.errorRateAlarmName, "EventChain-DR-HighErrorRate");
});

test("prod exports its running services with the plan's recovery counts", async (t) => {
  const { prod } = await committedStacks();
  t.deepEqual(
    prod.outputs.services.services.map((s) => [s.name, s.recoveryCount]),
    [
      ["eventchain-backend-prod", 3],
      ["eventchain-frontend-prod", 2],
    ],
  );
  t.is(prod.outputs.services.loadBalancerDnsName, prod.outputs.dns.primaryTarget);
  t.is(ofType(prod, "aws:ecs/service:Service").length, 0);
});
