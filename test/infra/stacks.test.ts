import test from "ava";
import { evaluateStack } from "../../infra/offline/evaluate.ts";
import { parseStackOutputs, STACK_OUTPUT_KEYS } from "../../contract/stack-outputs.ts";
import { committedStacks, ofType, only } from "../helpers/pulumi-mocks.ts";

test("both committed stacks export exactly the outputs contract", async (t) => {
  const { dr, prod } = await committedStacks();
  for (const evaluation of [dr, prod]) {
    t.deepEqual(Object.keys(evaluation.outputs).sort(), [...STACK_OUTPUT_KEYS].sort(), evaluation.stack);
    t.notThrows(() => parseStackOutputs(JSON.parse(JSON.stringify(evaluation.outputs)), evaluation.stack));
  }
  t.is(prod.outputs.role, "primary");
  t.is(dr.outputs.role, "dr");
  t.is(prod.outputs.peerRegion, dr.outputs.region);
});

test("prod reads dr through a StackReference and evaluating it alone evaluates dr first", async (t) => {
  const alone = await evaluateStack("prod");
  const ref = only(alone, "pulumi:pulumi:StackReference");
  t.is(ref.inputs.name, "organization/eventchain-dr/dr");
  const { dr } = await committedStacks();
  t.deepEqual(alone.outputs.dns, dr.outputs.dns);
  t.is(alone.outputs.media.replicaBucketName, dr.outputs.media.bucketName);
});

test("the dr stack depends on no other stack", async (t) => {
  const { dr } = await committedStacks();
  t.is(ofType(dr, "pulumi:pulumi:StackReference").length, 0);
});

test("evaluating the same stack twice in one process gives the same resources", async (t) => {
  const first = await evaluateStack("dr");
  const second = await evaluateStack("dr");
  t.deepEqual(
    second.resources.map((r) => `${r.type}::${r.name}`),
    first.resources.map((r) => `${r.type}::${r.name}`),
  );
  t.deepEqual(second.outputs, first.outputs);
});

test("every AWS resource is created through an explicit provider for a named region", async (t) => {
  const { dr, prod } = await committedStacks();
  for (const evaluation of [dr, prod]) {
    const aws = evaluation.resources.filter((r) => r.custom && r.type.startsWith("aws:"));
    t.true(aws.length > 30);
    const unpinned = aws.filter((r) => !r.provider || !r.region);
    t.deepEqual(
      unpinned.map((r) => r.name),
      [],
      evaluation.stack,
    );
  }
});

test("only the backup replication and the outputs mirror copy run in the other region from prod", async (t) => {
  const { prod } = await committedStacks();
  const inPeer = prod.resources.filter((r) => r.custom && r.type.startsWith("aws:") && r.region === "us-west-2");
  t.deepEqual(
    inPeer.map((r) => r.type),
    [
      "aws:rds/instanceAutomatedBackupsReplication:InstanceAutomatedBackupsReplication",
      "aws:s3/bucketObjectv2:BucketObjectv2",
    ],
  );
});

test("every component is a named eventchain component", async (t) => {
  const { dr, prod } = await committedStacks();
  const components = [...dr.resources, ...prod.resources].filter((r) => !r.custom);
  t.true(components.length >= 12);
  for (const c of components) t.regex(c.type, /^eventchain:(backup|dr|storage):[A-Z][A-Za-z]+$/);
});

test("what holds backups is protected from pulumi destroy", async (t) => {
  const { prod, dr } = await committedStacks();
  const mustProtect = [
    "aws:rds/instance:Instance",
    "aws:backup/vault:Vault",
    "aws:backup/vaultLockConfiguration:VaultLockConfiguration",
    "aws:kms/key:Key",
    "aws:s3/bucket:Bucket",
    "aws:elasticache/replicationGroup:ReplicationGroup",
    "aws:ecr/repository:Repository",
  ];
  for (const evaluation of [prod, dr]) {
    const guarded = evaluation.resources.filter((r) => mustProtect.includes(r.type));
    t.true(guarded.length >= (evaluation.stack === "prod" ? 14 : 8), evaluation.stack);
    t.deepEqual(
      guarded.filter((r) => !r.protect).map((r) => r.name),
      [],
      evaluation.stack,
    );
  }
});

test("every resource but the providers and the jobs' security group belongs to a component", async (t) => {
  const { prod, dr } = await committedStacks();
  for (const evaluation of [prod, dr]) {
    const topLevel = evaluation.resources.filter((r) => !r.parent && r.custom).map((r) => r.type);
    const allowed = ["pulumi:providers:aws", "pulumi:pulumi:StackReference", "aws:ec2/securityGroup:SecurityGroup"];
    t.deepEqual(
      topLevel.filter((type) => !allowed.includes(type)),
      [],
      evaluation.stack,
    );
    for (const r of evaluation.resources.filter((x) => x.parent))
      t.regex(r.parent ?? "", /^urn:pulumi:(prod|dr)::eventchain-dr::eventchain:/);
  }
});

test("both regions' providers tag everything with the project, stack and role", async (t) => {
  const { prod } = await committedStacks();
  const providers = ofType(prod, "pulumi:providers:aws");
  t.deepEqual(providers.map((p) => p.inputs.region).sort(), ["us-east-1", "us-west-2"]);
  for (const p of providers) {
    const tags =
      typeof p.inputs.defaultTags === "string" ? JSON.parse(p.inputs.defaultTags).tags : p.inputs.defaultTags.tags;
    t.deepEqual(tags, { project: "eventchain-dr", stack: "prod", role: "primary", "managed-by": "pulumi" });
  }
});
