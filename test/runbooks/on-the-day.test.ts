/**
 * What the operator reads on the day, in full region-failover runs against moto (through the
 * proxy that applies CloudWatch's evaluation of the switch, test/helpers/failover.ts):
 * - a run that stops after the switch is engaged and the primary fenced says so — traffic is
 *   already moving to DR, the primary's services are at 0 — not only "fix the cause, then resume";
 * - a run that could not fence the primary exits 5 (not 0), says PRIMARY NOT FENCED, and never
 *   calls the primary "fenced" in its next steps.
 */
import test from "ava";
import { runbook as regionFailover } from "../../runbooks/region-failover.ts";
import { EXIT } from "../../runbooks/lib/errors.ts";
import { awsFor } from "../helpers/moto.ts";
import { useFailoverMoto } from "../helpers/failover.ts";
import { primaryDown } from "../helpers/failed-over.ts";
import { runRunbook, workspace } from "../helpers/run-runbook.ts";

const { seeded, proxy, plane, state } = useFailoverMoto(test);

test.serial(
  "a name server that keeps answering the primary after the switch: the failure says the switch is engaged and the primary fenced",
  async (t) => {
    const ws = workspace(t);
    const file = ws.writeOutputs(seeded().file);
    // The zone's name server stops answering once the switch is written (a lagging data plane).
    const p = await proxy(t, (req) => {
      if (req.service === "monitoring" && req.action === "PutMetricData") plane().dns.setSilent(true);
      return undefined;
    });
    t.teardown(() => plane().dns.setSilent(false));
    const res = await runRunbook(
      regionFailover,
      ["--outputs", file, "--stack", "prod", "--state-dir", ws.stateDir, "--yes", "--force", "--health-attempts", "1"],
      { aws: awsFor(p.endpoint) },
    );
    t.is(res.exitCode, EXIT.failed, res.stdout);
    t.regex(res.stdout, /region-failover FAILED at step "verify-clients-moved": /);
    t.regex(
      res.stdout,
      /ALREADY IN EFFECT \(not undone\): Engage the failover switch \(clients to the DR region\) \(engage-switch\); Fence the old primary \(services to 0, no new database connections\) \(fence-primary\)\. Fix the cause, then resume: npx zx runbooks\/region-failover\.ts --resume \S+ --state-dir \S+/,
    );
    t.deepEqual(res.report!.failure!.inEffect, [
      "Engage the failover switch (clients to the DR region) (engage-switch)",
      "Fence the old primary (services to 0, no new database connections) (fence-primary)",
    ]);
    const now = (await state()) as Record<string, string[]>;
    t.true(
      now["prod.services"]!.every((s) => s.split(":")[1] === "0"),
      `the primary's services are at 0, as the message says: ${now["prod.services"]}`,
    );
  },
);

test.serial(
  "a primary that cannot be reached is not fenced: exit 5, PRIMARY NOT FENCED, never called fenced",
  async (t) => {
    const ws = workspace(t);
    const file = ws.writeOutputs(seeded().file);
    const p = await proxy(t, primaryDown);
    const res = await runRunbook(
      regionFailover,
      ["--outputs", file, "--stack", "prod", "--state-dir", ws.stateDir, "--yes", "--health-attempts", "1"],
      { aws: awsFor(p.endpoint) },
    );
    t.is(res.exitCode, EXIT.succeededWithCaveat, res.stdout);
    t.regex(res.stdout, /^region-failover succeeded within objectives — PRIMARY NOT FENCED: /m);
    const next = res.report!.nextSteps;
    t.regex(next[0]!, /^PRIMARY NOT FENCED \(.*\)\. .*run npx zx runbooks\/fence-primary\.ts --stack prod/);
    t.false(
      next.some((l) => /fenced, not deleted/.test(l)),
      next.join("\n"),
    );
    t.true(next.some((l) => /^Never delete eventchain-prod-db in us-east-1: .* It is NOT fenced yet/.test(l)));
  },
);
