import test from "ava";
import { parseDrillReport } from "../../../rehearsal/bench/drill.ts";

test("the drill's JSON report is read from its stdout with its phases", (t) => {
  const r = parseDrillReport('{"verdict":"objectives_met","phases":[{"name":"Seed","seconds":1.5,"ok":true}]}\n');
  t.is(r.verdict, "objectives_met");
  t.deepEqual(
    r.phases.map((p) => p.seconds),
    [1.5],
  );
});

test("output without a report, or a report without phases, is refused", (t) => {
  t.throws(() => parseDrillReport("drill failed\n"), { message: "the drill printed no JSON report" });
  t.throws(() => parseDrillReport('{"verdict":"failed"}'), {
    message: "the drill's JSON report has no verdict or phases",
  });
});
