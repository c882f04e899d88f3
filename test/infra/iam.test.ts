import test from "ava";
import { committedStacks, evaluateWith, ofType, statements } from "../helpers/pulumi-mocks.ts";

const wildcard = (action: string) => action === "*" || action.endsWith(":*") || action.includes("*");

test("no Allow statement in either stack grants a wildcard action", async (t) => {
  const { prod, dr } = await committedStacks();
  const ecs = await evaluateWith("prod", { "eventchain-dr:kubernetes": { enabled: false } });
  for (const evaluation of [prod, dr, ecs]) {
    const allows = statements(evaluation).filter((s) => s.Effect === "Allow");
    t.true(allows.length > 5);
    const offending = allows
      .filter((s) => s.Action.some(wildcard))
      .map((s) => `${s.resource.name}: ${s.Action.join(",")}`);
    t.deepEqual(offending, [], evaluation.stack);
  }
});

const NO_RESOURCE_LEVEL = new Set([
  "ecs:DescribeTaskDefinition",
  "backup:ListRestoreTestingPlans",
  "backup:ListRestoreJobs",
  "backup:PutRestoreValidationResult",
]);

test("wildcard resources are only used where AWS offers no narrower resource", async (t) => {
  const { prod, dr } = await committedStacks();
  for (const evaluation of [prod, dr]) {
    const broad = statements(evaluation).filter((s) => s.Effect === "Allow" && s.Resource.includes("*"));
    for (const s of broad) {
      const keyPolicy = s.resource.type === "aws:kms/key:Key";
      const metricsOnly =
        s.Action.join() === "cloudwatch:PutMetricData" &&
        s.Condition?.StringEquals?.["cloudwatch:namespace"] === "EventChain/Backups";
      // check-dr-readiness: ECS task definitions and AWS Backup's list calls take no resource-level
      // permission; PutRestoreValidationResult's resource form is not documented where we looked.
      const readinessOnly = s.Action.every((a) => NO_RESOURCE_LEVEL.has(a));
      t.true(keyPolicy || metricsOnly || readinessOnly, `${s.resource.name}: ${s.Action.join(",")}`);
    }
  }
});

test("service principals act for this account only", async (t) => {
  const { prod, dr } = await committedStacks();
  for (const evaluation of [prod, dr]) {
    for (const s of statements(evaluation).filter(
      (x) =>
        x.Effect === "Allow" &&
        typeof x.Principal === "object" &&
        x.Principal !== null &&
        "Service" in (x.Principal as object),
    )) {
      t.deepEqual(
        s.Condition?.StringEquals?.["aws:SourceAccount"],
        "111122223333",
        `${s.resource.type} ${s.resource.name}`,
      );
    }
  }
});

test("nothing is public except the DR load balancer's HTTPS and redirect ports", async (t) => {
  const { prod, dr } = await committedStacks();
  for (const evaluation of [prod, dr]) {
    const inline = ofType(evaluation, "aws:ec2/securityGroup:SecurityGroup").flatMap((sg) =>
      (sg.inputs.ingress ?? [])
        .filter(
          (rule: any) => (rule.cidrBlocks ?? []).includes("0.0.0.0/0") || (rule.ipv6CidrBlocks ?? []).includes("::/0"),
        )
        .map((rule: any) => `${sg.name}:${rule.fromPort}`),
    );
    const standalone = ofType(evaluation, "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")
      .filter((rule) => rule.inputs.cidrIpv4 === "0.0.0.0/0" || rule.inputs.cidrIpv6 === "::/0")
      .map((rule) => `${rule.name}:${rule.inputs.fromPort}`);
    t.deepEqual(inline, []);
    t.deepEqual(standalone, evaluation.stack === "dr" ? ["pilot-light-lb-in-443:443", "pilot-light-lb-in-80:80"] : []);
    for (const db of ofType(evaluation, "aws:rds/instance:Instance")) t.false(db.inputs.publiclyAccessible);
  }
});

test("every KMS key rotates and is kept 30 days after a deletion request", async (t) => {
  const { prod, dr } = await committedStacks();
  for (const evaluation of [prod, dr]) {
    const keys = ofType(evaluation, "aws:kms/key:Key");
    t.true(keys.length >= 4);
    for (const key of keys) t.like(key.inputs, { enableKeyRotation: true, deletionWindowInDays: 30 });
  }
});

test("no security group mixes inline rules with standalone rule resources", async (t) => {
  const { prod, dr } = await committedStacks();
  for (const evaluation of [prod, dr]) {
    const groups = new Map(ofType(evaluation, "aws:ec2/securityGroup:SecurityGroup").map((sg) => [sg.id, sg]));
    const standalone = [
      ...ofType(evaluation, "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"),
      ...ofType(evaluation, "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"),
    ];
    t.true(standalone.length > 0 || evaluation.stack === "prod");
    for (const rule of standalone) {
      const sg = groups.get(rule.inputs.securityGroupId);
      t.truthy(sg, rule.name);
      t.deepEqual(
        [sg?.inputs.ingress ?? [], sg?.inputs.egress ?? []],
        [[], []],
        `${sg?.name} has inline rules and ${rule.name}`,
      );
    }
  }
});

test("every customer key has a project-scoped alias", async (t) => {
  const { prod } = await committedStacks();
  const keys = ofType(prod, "aws:kms/key:Key");
  const aliases = ofType(prod, "aws:kms/alias:Alias");
  t.is(aliases.length, keys.length);
  for (const alias of aliases) t.regex(alias.inputs.name, /^alias\/eventchain-dr\/[a-z-]+-key$/);
});
