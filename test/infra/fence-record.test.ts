/** The fence record (contract/fence-record.ts) alone: when an instance counts as fenced, what the program declares, and the exact messages. */
import test from "ava";
import {
  declaredFence,
  FENCE_TAG,
  fenceStateOf,
  fenceTags,
  liftFenceProblem,
  UNRECORDED_FENCE,
  type LiveDatabase,
} from "../../contract/fence-record.ts";

const FENCE = ["sg-fence"];
const OWN = ["sg-own"];
const RECORD = { [FENCE_TAG.by]: "region-failover-20260115t143512-3fa9c1", [FENCE_TAG.at]: "2026-01-15T14:40:02.000Z" };
const db = (securityGroupIds: string[], tags: Record<string, string> = {}): LiveDatabase => ({
  identifier: "eventchain-prod-db",
  tags,
  securityGroupIds,
});

test("fenceTags records the run and the moment", (t) => {
  t.deepEqual(fenceTags("fb4", new Date("2026-01-15T14:40:02Z")), {
    "eventchain:fenced-by": "fb4",
    "eventchain:fenced-at": "2026-01-15T14:40:02.000Z",
  });
});

test("not fenced: no instance, or an instance on its own groups without a record", (t) => {
  t.deepEqual(fenceStateOf(undefined, FENCE), { fenced: false });
  t.deepEqual(fenceStateOf(db(OWN, { team: "payments" }), FENCE), { fenced: false });
  t.deepEqual(fenceStateOf(db([...OWN, ...FENCE]), FENCE), { fenced: false }, "the fence group beside others");
  t.deepEqual(fenceStateOf(db([]), []), { fenced: false }, "a stack that declares no fence group");
  t.is(declaredFence("prod", undefined, FENCE), undefined);
  t.is(declaredFence("prod", db(OWN), FENCE), undefined);
});

test("fenced by its record, whatever its security groups are", (t) => {
  t.deepEqual(fenceStateOf(db(FENCE, RECORD), FENCE), {
    fenced: true,
    recorded: true,
    by: "region-failover-20260115t143512-3fa9c1",
    at: "2026-01-15T14:40:02.000Z",
  });
  t.like(fenceStateOf(db(OWN, RECORD), FENCE), { fenced: true, recorded: true });
  t.deepEqual(fenceStateOf(db(FENCE, { [FENCE_TAG.by]: "fp1" }), FENCE), {
    fenced: true,
    recorded: true,
    by: "fp1",
    at: null,
  });
});

test("fenced without a record: exactly the fence group", (t) => {
  t.deepEqual(fenceStateOf(db(FENCE), FENCE), { fenced: true, recorded: false });
});

test("a recorded fence on the fence group is declared as it is, with its tags", (t) => {
  t.deepEqual(declaredFence("prod", db(FENCE, { ...RECORD, team: "payments" }), FENCE), {
    securityGroupIds: ["sg-fence"],
    tags: RECORD,
    notice:
      "eventchain-prod-db is fenced (eventchain:fenced-by region-failover-20260115t143512-3fa9c1, since 2026-01-15T14:40:02.000Z): this update keeps it on the fence security group sg-fence with its fence tags, whatever the Database component declares. Lift the fence only as a decision: npx zx runbooks/lift-fence.ts --stack prod --fence region-failover-20260115t143512-3fa9c1",
  });
});

test("a recorded fence whose groups did not change yet is declared on the fence group (the update finishes it)", (t) => {
  t.deepEqual(declaredFence("prod", db(OWN, { [FENCE_TAG.by]: "fp1" }), FENCE), {
    securityGroupIds: ["sg-fence"],
    tags: { "eventchain:fenced-by": "fp1" },
    notice:
      "eventchain-prod-db is fenced (eventchain:fenced-by fp1): it is on sg-own, and this update puts it on the fence security group sg-fence with its fence tags, whatever the Database component declares. Lift the fence only as a decision: npx zx runbooks/lift-fence.ts --stack prod --fence fp1",
  });
});

test("an unrecorded fence is kept, with no tags", (t) => {
  t.deepEqual(declaredFence("prod", db(FENCE), FENCE), {
    securityGroupIds: ["sg-fence"],
    tags: undefined,
    notice:
      "eventchain-prod-db is on the fence security group sg-fence without a fence record (tag eventchain:fenced-by): this update keeps it there. Lift the fence only as a decision: npx zx runbooks/lift-fence.ts --stack prod --fence unrecorded",
  });
});

test("liftFenceProblem: the fence named, or nothing to lift", (t) => {
  t.is(liftFenceProblem("prod", db(FENCE, RECORD), FENCE, RECORD[FENCE_TAG.by]), undefined);
  t.is(liftFenceProblem("prod", db(FENCE), FENCE, UNRECORDED_FENCE), undefined);
  t.is(liftFenceProblem("prod", db(OWN), FENCE, "anything"), undefined, "not fenced: nothing to lift");
});

test("liftFenceProblem: another fence than the one named", (t) => {
  t.is(
    liftFenceProblem("prod", db(FENCE, RECORD), FENCE, "fp1"),
    "eventchain-prod-db is fenced by region-failover-20260115t143512-3fa9c1 (since 2026-01-15T14:40:02.000Z), not fp1: --fence must name the fence you mean to lift (tag eventchain:fenced-by): npx zx runbooks/lift-fence.ts --stack prod --fence region-failover-20260115t143512-3fa9c1",
  );
  t.is(
    liftFenceProblem("prod", db(FENCE, RECORD), FENCE, UNRECORDED_FENCE),
    "eventchain-prod-db is fenced by region-failover-20260115t143512-3fa9c1 (since 2026-01-15T14:40:02.000Z), not unrecorded: --fence must name the fence you mean to lift (tag eventchain:fenced-by): npx zx runbooks/lift-fence.ts --stack prod --fence region-failover-20260115t143512-3fa9c1",
  );
  t.is(
    liftFenceProblem("prod", db(FENCE), FENCE, "fp1"),
    "eventchain-prod-db is on the fence security group sg-fence without a fence record, not fenced by fp1: to lift it, npx zx runbooks/lift-fence.ts --stack prod --fence unrecorded",
  );
});
