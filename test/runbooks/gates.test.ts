/**
 * Gates by construction (runbooks/lib/gates.ts): in every runbook, every step that moves traffic
 * or is destructive depends, directly or not, on every gate listed before it, and one that no gate
 * precedes says why. A runbook that adds a check and forgets to make its switch depend on it is
 * refused, naming both; so is a destructive step with no gate and no reason.
 */
import test from "ava";
import { gateProblems } from "../../runbooks/lib/gates.ts";
import { stepFor, type AnyStep } from "../../runbooks/lib/types.ts";
import { runbookNamed, shapes, stepsOf } from "../helpers/runbook-steps.ts";

for (const shape of shapes())
  test(`${shape.label}: every traffic-moving or destructive step is gated by every check before it`, (t) => {
    t.deepEqual(gateProblems(shape.steps), []);
  });

test("region-failover's switch is gated by the primary assessment, the database and the targets", (t) => {
  const steps = stepsOf(runbookNamed("region-failover"));
  const gates = steps.filter((s) => s.gate).map((s) => s.id);
  t.deepEqual(gates, ["assess-primary", "wait-database", "verify-targets"]);
  t.true(steps.find((s) => s.id === "engage-switch")!.movesTraffic);
});

const step = stepFor<unknown>();
const noop = { describe: () => [], run: async () => ({}) };

/** region-failover's shape in miniature, with a new check the switch was not made to depend on. */
function failoverWithANewCheck(): AnyStep<unknown>[] {
  const assess = step({ ...noop, id: "assess-primary", title: "Probe", dependsOn: [], readOnly: true, gate: true });
  const restore = step({ ...noop, id: "restore-database", title: "Restore", dependsOn: [assess] });
  const wait = step({ ...noop, id: "wait-database", title: "Wait", dependsOn: [restore], gate: true });
  const replication = step({ ...noop, id: "check-replication", title: "New check", dependsOn: [wait], gate: true });
  const engage = step({ ...noop, id: "engage-switch", title: "Switch", dependsOn: [wait], movesTraffic: true });
  return [assess, restore, wait, replication, engage];
}

test("a runbook whose switch does not depend on a check listed before it is refused, naming both", (t) => {
  const steps = failoverWithANewCheck();
  t.deepEqual(gateProblems(steps), [
    'step "engage-switch" moves traffic but does not depend on the gate "check-replication" listed ' +
      'before it: add "check-replication" to its dependsOn (or to a step it depends on), or list ' +
      '"check-replication" after it when it gates nothing there',
  ]);
  // Fixed by depending on it (directly or not).
  const fixed = steps.map((s) => (s.id === "engage-switch" ? { ...s, dependsOn: [steps[3]!] } : s));
  t.deepEqual(gateProblems(fixed), []);
});

test("a destructive step that no gate precedes is refused unless it says why it needs none", (t) => {
  const make = step({ ...noop, id: "make", title: "Make", dependsOn: [] });
  const drop = step({ ...noop, id: "drop-old", title: "Drop", dependsOn: [make], destructive: true });
  t.deepEqual(gateProblems([make, drop]), [
    'step "drop-old" is destructive but no gate precedes it: make it depend on a check marked gate: true, or say in ungated why it needs none',
  ]);
  t.deepEqual(gateProblems([make, { ...drop, ungated: "it drops only what this run made" }]), []);
  t.deepEqual(gateProblems([make, { ...drop, ungated: "  " }]).length, 1, "a blank reason is no reason");
});

test("a reason for no gate where a gate is in place, or on a step that changes nothing, is refused", (t) => {
  const check = step({ ...noop, id: "check", title: "Check", dependsOn: [], readOnly: true, gate: true });
  const drop = step({ ...noop, id: "drop", title: "Drop", dependsOn: [check], destructive: true, ungated: "x" });
  const read = step({ ...noop, id: "read", title: "Read", dependsOn: [], readOnly: true, ungated: "y" });
  t.deepEqual(gateProblems([check, drop, read]), [
    'step "drop" says it needs no gate, yet depends on the gate(s) "check": remove ungated',
    'step "read" says why it needs no gate, but it neither moves traffic nor is destructive: remove ungated',
  ]);
});
