import test from "ava";
import { redoSecondsFromLog } from "../../../rehearsal/bench/pitr.ts";

test("the replay time is read from PostgreSQL's redo-done log line", (t) => {
  const log = [
    "2026-11-24 16:00:01 UTC [1] LOG:  redo starts at 0/5000028",
    "2026-11-24 16:00:09 UTC [1] LOG:  redo done at 0/17000110 system usage: CPU: user: 3.10 s, system: 1.20 s, elapsed: 7.84 s",
  ].join("\n");
  t.is(redoSecondsFromLog(log), 7.84);
  t.is(redoSecondsFromLog("LOG:  database system is ready to accept connections"), undefined);
});
