/**
 * The program keeps a fence a runbook set (contract/fence-record.ts, docs/failover-switch.md): under mocks,
 * with the live instance as the runbook left it, prod declares the instance exactly as it is live
 * (so a `pulumi up` has nothing to change that would lift the fence), and without a fence it
 * declares everything as before.
 */
import test from "ava";
import {
  evaluateStack,
  type EvaluatedResource,
  type Evaluation,
  type LiveState,
} from "../../infra/offline/evaluate.ts";
import { FENCE_TAG, type LiveDatabase } from "../../contract/fence-record.ts";
import { committedStacks, ofType, only } from "../helpers/pulumi-mocks.ts";

const RDS = "aws:rds/instance:Instance";
const ID = "eventchain-prod-db";
const RECORD = { [FENCE_TAG.by]: "region-failover-20260115t143512-3fa9c1", [FENCE_TAG.at]: "2026-01-15T14:40:02.000Z" };

const prodWith = async (live: LiveState): Promise<Evaluation> =>
  evaluateStack("prod", { peerOutputs: (await committedStacks()).dr.outputs, live });

/** The ids the committed prod stack gives the database's own group and the fence group. */
const groups = async () => {
  const { prod } = await committedStacks();
  return { own: prod.outputs.database.securityGroupIds, fence: prod.outputs.failover.fenceSecurityGroupIds };
};
const live = (securityGroupIds: string[], tags: Record<string, string> = {}): LiveState => ({
  databases: [{ identifier: ID, tags, securityGroupIds } satisfies LiveDatabase],
});

/** Every resource's inputs by type and name; the final snapshot's name carries the evaluation's time. */
const declared = (e: Evaluation) =>
  Object.fromEntries(
    e.resources.map((r: EvaluatedResource) => {
      const { finalSnapshotIdentifier: _time, ...inputs } = r.inputs;
      return [`${r.type}::${r.name}`, inputs];
    }),
  );

test("no instance yet (the first up): the instance on its own security group, no tags, as before", async (t) => {
  const { prod } = await committedStacks();
  const { own } = await groups();
  const db = only(prod, RDS);
  t.deepEqual(db.inputs.vpcSecurityGroupIds, own);
  t.is(db.inputs.tags, undefined);
  t.deepEqual(own, [only(prod, "aws:ec2/securityGroup:SecurityGroup", "database-sg").id]);
});

test("an instance that is not fenced: everything declared exactly as with none", async (t) => {
  const { prod } = await committedStacks();
  const { own } = await groups();
  const e = await prodWith(live(own, { team: "payments" }));
  t.deepEqual(declared(e), declared(prod));
  t.deepEqual(e.outputs, prod.outputs);
});

test("fenced by a runbook: prod declares the instance on the fence group with its record, and nothing else changes", async (t) => {
  const { prod } = await committedStacks();
  const { fence } = await groups();
  const e = await prodWith(live(fence, { ...RECORD, team: "payments" }));
  const db = only(e, RDS);
  t.deepEqual(db.inputs.vpcSecurityGroupIds, fence, "what the instance has live: no change lifts the fence");
  t.deepEqual(db.inputs.tags, RECORD, "the record is declared, so an update after a refresh does not drop it");
  const { vpcSecurityGroupIds: _a, tags: _b, ...rest } = declared(e)[`${RDS}::database-instance`]!;
  const { vpcSecurityGroupIds: _c, tags: _d, ...before } = declared(prod)[`${RDS}::database-instance`]!;
  t.deepEqual(rest, before);
  const others = (x: Evaluation) => Object.entries(declared(x)).filter(([k]) => k !== `${RDS}::database-instance`);
  t.deepEqual(others(e), others(prod));
  t.deepEqual(e.outputs, prod.outputs, "the outputs still name the database's own group for lift-fence");
});

test("a recorded fence whose security groups did not change yet: prod declares the fence group (an update finishes it)", async (t) => {
  const { own, fence } = await groups();
  const db = only(await prodWith(live(own, RECORD)), RDS);
  t.deepEqual(db.inputs.vpcSecurityGroupIds, fence);
  t.deepEqual(db.inputs.tags, RECORD);
});

test("on the fence group without a record (fenced by hand or by an older runbook): kept there, no tags", async (t) => {
  const { fence } = await groups();
  const db = only(await prodWith(live(fence)), RDS);
  t.deepEqual(db.inputs.vpcSecurityGroupIds, fence);
  t.is(db.inputs.tags, undefined);
});

test("another instance fenced does not fence this one", async (t) => {
  const { prod } = await committedStacks();
  const { own, fence } = await groups();
  const e = await prodWith({
    databases: [
      { identifier: ID, tags: {}, securityGroupIds: own },
      { identifier: "eventchain-prod-db-fb-20260116093000", tags: RECORD, securityGroupIds: fence },
    ],
  });
  t.deepEqual(declared(e), declared(prod));
});

test("the dr stack reads no live database", async (t) => {
  const e = await evaluateStack("dr", { live: { rdsReadError: "must not be called" } });
  t.is(e.outputs.role, "dr");
});

test("a pulumi up cannot scale the fenced services back up: prod declares no ECS service, dr's ignore desiredCount", async (t) => {
  const { prod, dr } = await committedStacks();
  t.deepEqual(ofType(prod, "aws:ecs/service:Service"), []);
  const services = ofType(dr, "aws:ecs/service:Service");
  t.true(services.length > 0);
  for (const s of services) t.true(s.ignoreChanges.includes("desiredCount"), s.name);
});
