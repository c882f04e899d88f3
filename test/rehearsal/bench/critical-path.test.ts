import test from "ava";
import { criticalPath, overheadPercent } from "../../../rehearsal/bench/critical-path.ts";

test("steps without dependsOn form a sequence whose critical path is their sum", (t) => {
  const cp = criticalPath([
    { id: "a", seconds: 1 },
    { id: "b", seconds: 2 },
    { id: "c", seconds: 3 },
  ]);
  t.is(cp.seconds, 6);
  t.deepEqual(cp.path, ["a", "b", "c"]);
  t.is(cp.sequentialSeconds, 6);
});

test("independent steps count once, through the longest branch", (t) => {
  // assess → (restore-db 5 s ‖ scale-services 2 s) → dns (after both) → alarm (independent)
  const cp = criticalPath([
    { id: "assess", seconds: 1 },
    { id: "restore-db", seconds: 5, dependsOn: ["assess"] },
    { id: "scale-services", seconds: 2, dependsOn: ["assess"] },
    { id: "dns", seconds: 1, dependsOn: ["restore-db", "scale-services"] },
    { id: "alarm", seconds: 0.5, dependsOn: [] },
  ]);
  t.is(cp.seconds, 7);
  t.deepEqual(cp.path, ["assess", "restore-db", "dns"]);
  t.is(cp.sequentialSeconds, 9.5);
});

test("an unknown dependency and a cycle are named", (t) => {
  t.throws(() => criticalPath([{ id: "a", seconds: 1, dependsOn: ["zz"] }]), {
    message: 'unknown step "zz" in dependsOn: expected one of a',
  });
  t.throws(
    () =>
      criticalPath([
        { id: "a", seconds: 1, dependsOn: ["b"] },
        { id: "b", seconds: 1, dependsOn: ["a"] },
      ]),
    { message: /^dependency cycle through step "(a|b)"$/ },
  );
});

test("overhead is the excess over the critical path in percent", (t) => {
  t.is(overheadPercent(11, 10), 10);
  t.throws(() => overheadPercent(1, 0), { message: "critical path 0 s is not allowed: expected a positive duration" });
});
