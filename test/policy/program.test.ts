import test from "ava";
import { evaluateStack, type Evaluation } from "../../infra/offline/evaluate.ts";
import type { ResourceValidationPolicy, StackValidationPolicy } from "@pulumi/policy";
import { policies } from "../../policy/rules.ts";
import { committedContext, stackViolations, violations, type FakeResource } from "../helpers/policy.ts";

// The mock runtime does not pass resource options (protect) to the mocks, so the protect check
// cannot be judged from an evaluation; the infra tests check `protect` on the components.
const NOT_VISIBLE_UNDER_MOCKS = /the resource option protect must be true$/;

const asFake = (evaluation: Evaluation): FakeResource[] =>
  evaluation.resources
    .filter((r) => r.custom)
    .map((r) => ({ type: r.type, name: r.name, props: { ...r.inputs, id: r.id } }));

async function allViolations(stack: "prod" | "dr", resources: FakeResource[]): Promise<string[]> {
  const pack = policies(committedContext(stack));
  const out: string[] = [];
  for (const policy of pack) {
    if ("validateStack" in policy) {
      out.push(
        ...(await stackViolations(pack, (policy as StackValidationPolicy).name, resources)).map(
          (v) => `${policy.name}: ${v}`,
        ),
      );
    } else if ((policy as ResourceValidationPolicy).validateResource) {
      for (const r of resources)
        out.push(...(await violations(pack, policy.name, r)).map((v) => `${policy.name}: ${v}`));
    }
  }
  return out.filter((v) => !NOT_VISIBLE_UNDER_MOCKS.test(v));
}

const dr = await evaluateStack("dr");
const prod = await evaluateStack("prod", { peerOutputs: dr.outputs });

test("the committed dr stack passes every rule of the policy pack", async (t) => {
  t.deepEqual(await allViolations("dr", asFake(dr)), []);
});

test("the committed prod stack passes every rule of the policy pack", async (t) => {
  const resources = asFake(prod);
  const types = new Set(resources.map((r) => r.type));
  for (const type of [
    "aws:rds/instance:Instance",
    "aws:backup/plan:Plan",
    "aws:backup/vault:Vault",
    "aws:s3/bucketPolicy:BucketPolicy",
    "aws:s3/bucketReplicationConfig:BucketReplicationConfig",
    "aws:iam/rolePolicy:RolePolicy",
    "aws:elasticache/replicationGroup:ReplicationGroup",
  ]) {
    t.true(types.has(type), `the evaluation declares ${type}`);
  }
  t.deepEqual(await allViolations("prod", resources), []);
});

test("the pack catches a weakened program: short retention and an unencrypted cache", async (t) => {
  const weakened = asFake(prod).map((r) => {
    if (r.type === "aws:rds/instance:Instance") return { ...r, props: { ...r.props, backupRetentionPeriod: 7 } };
    if (r.type === "aws:elasticache/replicationGroup:ReplicationGroup")
      return { ...r, props: { ...r.props, atRestEncryptionEnabled: false } };
    return r;
  });
  const found = await allViolations("prod", weakened);
  t.true(
    found.some((v) =>
      /^backup-retention-meets-tier: .*backupRetentionPeriod is 7 days; primary-database is critical/.test(v),
    ),
    found.join("\n"),
  );
  t.true(
    found.some((v) => /^encryption-at-rest-customer-keys: .*atRestEncryptionEnabled must be true$/.test(v)),
    found.join("\n"),
  );
});

test("the pack catches a weakened program: media not replicated, vault unlocked, database without replicated backups", async (t) => {
  const weakened = asFake(prod).filter(
    (r) =>
      !(r.type === "aws:s3/bucketReplicationConfig:BucketReplicationConfig" && /media/.test(r.name)) &&
      r.type !== "aws:backup/vaultLockConfiguration:VaultLockConfiguration" &&
      r.type !== "aws:rds/instanceAutomatedBackupsReplication:InstanceAutomatedBackupsReplication" &&
      r.type !== "aws:backup/plan:Plan",
  );
  const found = await allViolations("prod", weakened);
  t.true(
    found.some((v) =>
      /^cross-region-copies: media.*: no cross-region copy: declare an enabled aws\.s3\.BucketReplicationConfig/.test(
        v,
      ),
    ),
    found.join("\n"),
  );
  t.true(
    found.some((v) =>
      /^cross-region-copies: .*: no cross-region copy: declare an aws\.rds\.InstanceAutomatedBackupsReplication/.test(
        v,
      ),
    ),
    found.join("\n"),
  );
  t.true(
    found.some((v) => /^vault-lock-on: .*: no aws\.backup\.VaultLockConfiguration locks this vault$/.test(v)),
    found.join("\n"),
  );
});
