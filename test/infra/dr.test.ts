import test from "ava";
import { MOCK_ACCOUNT_ID, MOCK_NAME_SERVERS } from "../../infra/offline/mock-state.ts";
import { SWITCH_METRIC } from "../../contract/switch.ts";
import { committedStacks, evaluateWith, ofType, only } from "../helpers/pulumi-mocks.ts";

const HEALTH_CHECK = "aws:route53/healthCheck:HealthCheck";
const RECORD = "aws:route53/record:Record";
const ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm";

const recordsOf = (resources: { inputs: Record<string, any>; type: string }[]) =>
  Object.fromEntries(
    resources.filter((r) => r.type === RECORD).map((r) => [r.inputs.failoverRoutingPolicies[0].type, r.inputs]),
  );

test("the primary endpoint is health-checked over HTTPS on /health every 30 s, failing after 3, and that pages", async (t) => {
  const { dr, prod } = await committedStacks();
  const check = only(dr, HEALTH_CHECK, "dns-primary-health");
  t.like(check.inputs, {
    type: "HTTPS",
    fqdn: "eventchain-prod-alb.us-east-1.elb.amazonaws.com",
    port: 443,
    resourcePath: "/health",
    requestInterval: 30,
    failureThreshold: 3,
  });
  t.is(dr.outputs.dns.primaryHealthCheckId, check.id ?? "missing id");
  // Route 53 publishes HealthCheckStatus in us-east-1 only: the page is the primary stack's, to its topic.
  const page = only(prod, ALARM, "endpoint-health");
  t.is(page.region, "us-east-1");
  t.like(page.inputs, {
    namespace: "AWS/Route53",
    metricName: "HealthCheckStatus",
    dimensions: { HealthCheckId: check.id },
    comparisonOperator: "LessThanThreshold",
    threshold: 1,
  });
  t.deepEqual(page.inputs.alarmActions, [prod.outputs.alerts.topicArn]);
});

test("the endpoint health check moves no traffic: no record carries it, the PRIMARY record carries the switch", async (t) => {
  const { dr, prod } = await committedStacks();
  const records = recordsOf(dr.resources);
  t.deepEqual(Object.keys(records).sort(), ["PRIMARY", "SECONDARY"]);
  for (const record of Object.values(records))
    t.like(record, { name: "api.eventchain.com", type: "CNAME", ttl: 60, zoneId: "Z0123456789EVENTCHAIN" });
  t.like(records.PRIMARY, {
    setIdentifier: "primary",
    records: ["eventchain-prod-alb.us-east-1.elb.amazonaws.com"],
    healthCheckId: dr.outputs.failover.switch.healthCheckId,
  });
  t.not(records.PRIMARY.healthCheckId, dr.outputs.dns.primaryHealthCheckId);
  t.like(records.SECONDARY, { setIdentifier: "secondary", records: [dr.outputs.services.loadBalancerDnsName] });
  t.is(records.SECONDARY.healthCheckId, undefined, "the DR record is answered only when PRIMARY's check fails");
  t.is(dr.outputs.failover.mode, "switch");
  t.deepEqual(prod.outputs.failover.switch, dr.outputs.failover.switch, "prod re-exports the switch");
});

test("the switch is a CLOUDWATCH_METRIC health check on a DR-region alarm that holds its state when data stops", async (t) => {
  const { dr } = await committedStacks();
  const alarm = only(dr, ALARM, "failover-switch-alarm");
  const check = only(dr, HEALTH_CHECK, "failover-switch-health");
  t.is(alarm.region, "us-west-2");
  t.like(alarm.inputs, {
    namespace: SWITCH_METRIC.namespace,
    metricName: SWITCH_METRIC.metricName,
    dimensions: { Record: "api.eventchain.com" },
    // Route 53 takes standard-resolution alarms and these statistics only.
    statistic: "Maximum",
    period: 60,
    evaluationPeriods: 1,
    threshold: 1,
    comparisonOperator: "GreaterThanOrEqualToThreshold",
    treatMissingData: "ignore",
  });
  t.deepEqual(alarm.inputs.alarmActions, [dr.outputs.alerts.topicArn], "engaging is announced in the DR region");
  t.like(check.inputs, {
    type: "CLOUDWATCH_METRIC",
    cloudwatchAlarmName: alarm.inputs.name,
    cloudwatchAlarmRegion: "us-west-2",
    insufficientDataHealthStatus: "LastKnownStatus",
  });
  t.true(alarm.protect && check.protect, "pulumi destroy cannot drop a switch that may be engaged");
  t.like(dr.outputs.failover.switch, {
    healthCheckId: check.id,
    alarmName: alarm.inputs.name,
    region: "us-west-2",
    namespace: SWITCH_METRIC.namespace,
    metricName: SWITCH_METRIC.metricName,
    threshold: 1,
  });
  t.deepEqual(dr.outputs.failover.switch.dimensions, [{ name: "Record", value: "api.eventchain.com" }]);
  t.true(dr.outputs.failover.switch.detectionSeconds >= 120);
});

test("an engaged switch survives pulumi up of both stacks: neither program declares anything that resets it", async (t) => {
  const { dr, prod } = await committedStacks();
  // What holds the switch's state is the metric's data and the alarm's state. No resource either
  // stack declares writes that metric, and the alarm (the only reader) has no input holding a
  // state: CloudWatch leaves an alarm's state unchanged when PutMetricAlarm updates it, and a
  // re-created alarm (insufficient data) leaves the health check at its last known status.
  for (const e of [dr, prod]) {
    // (The outputs mirror's `content` and the jobs' outputs ConfigMap's `data` are the outputs as
    // data: they name the metric, they write nothing.)
    const touching = e.resources.filter((r) =>
      JSON.stringify({ ...r.inputs, content: undefined, data: undefined }).includes(SWITCH_METRIC.metricName),
    );
    t.deepEqual(
      touching.map((r) => `${r.type}::${r.name}`),
      e.stack === "dr" ? [`${ALARM}::failover-switch-alarm`] : [],
      e.stack,
    );
  }
  const alarm = only(dr, ALARM, "failover-switch-alarm").inputs;
  t.deepEqual(
    Object.keys(alarm).filter((k) => /state/i.test(k)),
    [],
  );
  // Only dr declares Route 53 routing, and its records are fixed: the same in every evaluation,
  // whatever the switch's state (the program has no input that knows it).
  t.deepEqual(ofType(prod, RECORD), []);
  t.deepEqual(ofType(prod, HEALTH_CHECK), []);
  const again = await evaluateWith("dr", {});
  t.deepEqual(recordsOf(again.resources), recordsOf(dr.resources));
});

test("automatic failover (warm standby) makes the PRIMARY record carry the endpoint health check", async (t) => {
  const { dr: committed } = await committedStacks();
  const services = {
    ...(committed.config.services as object),
    backend: { ...committed.config.services.backend, standbyCount: 3 },
    frontend: { ...committed.config.services.frontend, standbyCount: 2 },
  };
  const warm = await evaluateWith("dr", {
    "eventchain-dr:dns": { ...committed.config.dns, failoverMode: "automatic" },
    "eventchain-dr:services": services,
  });
  t.is(recordsOf(warm.resources).PRIMARY.healthCheckId, warm.outputs.dns.primaryHealthCheckId);
  t.is(warm.outputs.failover.mode, "automatic");
  t.deepEqual(
    ofType(warm, "aws:ecs/service:Service").map((s) => s.inputs.desiredCount),
    [3, 2],
  );
});

test("the zone's authoritative name servers are recorded in the outputs of both stacks", async (t) => {
  const { dr, prod } = await committedStacks();
  t.deepEqual(dr.outputs.failover.nameServers, MOCK_NAME_SERVERS);
  t.deepEqual(prod.outputs.failover.nameServers, MOCK_NAME_SERVERS);
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

test("the error-rate alarm is declared once, for both regions: 5xx over two 5-minute periods above 5 %", async (t) => {
  const { dr, prod } = await committedStacks();
  const alarms = [dr, prod].map((e) => only(e, ALARM, "error-rate"));
  const [drAlarm, prodAlarm] = alarms.map((a) => a.inputs);
  t.like(drAlarm, {
    name: "EventChain-DR-HighErrorRate",
    threshold: 5,
    evaluationPeriods: 2,
    comparisonOperator: "GreaterThanThreshold",
    actionsEnabled: true,
  });
  t.deepEqual(
    drAlarm.metricQueries.filter((q: any) => q.metric).map((q: any) => q.metric.period),
    [300, 300],
  );
  t.is(drAlarm.metricQueries.find((q: any) => q.returnData).expression, "100 * errors / requests");
  t.deepEqual(drAlarm.alarmActions, [dr.outputs.alerts.topicArn]);
  t.deepEqual(prodAlarm.alarmActions, [prod.outputs.alerts.topicArn]);
  t.is(dr.outputs.services.errorRateAlarmName, "EventChain-DR-HighErrorRate");
  t.is(prod.outputs.services.errorRateAlarmName, "EventChain-Primary-HighErrorRate");
  t.deepEqual(
    alarms.map((a) => a.region),
    ["us-west-2", "us-east-1"],
  );
  t.deepEqual(
    prodAlarm.metricQueries[0].metric.dimensions,
    { LoadBalancer: "app/eventchain-prod-alb/50dc6c495c0c9188" },
    "the primary's load balancer from services.loadBalancerArn",
  );
  // One definition: the same alarm but for its name, description, load balancer and topic.
  const shape = (a: Record<string, any>) =>
    JSON.stringify({
      ...a,
      name: undefined,
      alarmDescription: undefined,
      alarmActions: undefined,
      metricQueries: a.metricQueries.map((q: any) => (q.metric ? { ...q, metric: { ...q.metric, dimensions: 0 } } : q)),
    });
  t.is(shape(prodAlarm), shape(drAlarm));
});

test("both stacks' outputs are mirrored into the DR region's versioned, encrypted bucket", async (t) => {
  const { dr, prod } = await committedStacks();
  const bucket = only(dr, "aws:s3/bucket:Bucket", "outputs-mirror");
  t.is(bucket.inputs.bucket, `eventchain-dr-outputs-${MOCK_ACCOUNT_ID}-us-west-2`);
  t.is(bucket.region, "us-west-2");
  t.true(bucket.protect);
  t.is(
    only(dr, "aws:s3/bucketVersioning:BucketVersioning", "outputs-mirror-versioning").inputs.versioningConfiguration
      .status,
    "Enabled",
  );
  t.like(dr.outputs.failover.outputsMirror, { bucketName: bucket.inputs.bucket, region: "us-west-2" });
  for (const e of [dr, prod]) {
    const object = only(e, "aws:s3/bucketObjectv2:BucketObjectv2");
    t.is(object.region, "us-west-2", `${e.stack}'s copy is in the DR region`);
    t.like(object.inputs, {
      bucket: bucket.inputs.bucket,
      key: `stacks/${e.stack}.json`,
      serverSideEncryption: "aws:kms",
      kmsKeyId: dr.outputs.failover.outputsMirror.kmsKeyArn,
      contentType: "application/json",
    });
    t.deepEqual(JSON.parse(object.inputs.content), JSON.parse(JSON.stringify(e.outputs)));
  }
});

test("the fence for the old primary database admits nothing and lets nothing out", async (t) => {
  const { prod, dr } = await committedStacks();
  const fence = only(prod, "aws:ec2/securityGroup:SecurityGroup", "primary-fence-sg");
  t.is(fence.region, "us-east-1");
  t.like(fence.inputs, { vpcId: "vpc-0e1c0a5e00000a001" });
  t.deepEqual(fence.inputs.ingress ?? [], []);
  t.deepEqual(fence.inputs.egress ?? [], []);
  t.deepEqual(prod.outputs.failover.fenceSecurityGroupIds, [fence.id]);
  t.deepEqual(dr.outputs.failover.fenceSecurityGroupIds, []);
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
