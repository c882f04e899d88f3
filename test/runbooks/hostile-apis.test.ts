/**
 * The five incident runbooks against APIs as they are during a regional event: 20% of calls
 * throttled, occasional 503s and connection resets (seeded, so every run sees the same faults),
 * through the fault-injecting proxy in front of moto. Each must finish with no step repeated and
 * no duplicate resource: one restored instance, one record change, each desired count set once,
 * one forced deployment per service. Then what a retry must never do: a lost answer that makes a
 * second instance, a hung call that hangs the run, a throttled call retried past its budget.
 */
import test, { type ExecutionContext } from "ava";
import { StopDBInstanceCommand, RDSClient } from "@aws-sdk/client-rds";
import { UpdateServiceCommand, ECSClient } from "@aws-sdk/client-ecs";
import { runbook as regionFailover } from "../../runbooks/region-failover.ts";
import { runbook as failback } from "../../runbooks/failback.ts";
import { runbook as serviceRecovery } from "../../runbooks/service-recovery.ts";
import { runbook as databaseRecovery } from "../../runbooks/database-recovery.ts";
import { runbook as pitr } from "../../runbooks/point-in-time-restore.ts";
import { snsSinks } from "../../runbooks/aws/alert-topic-sinks.ts";
import { EXIT } from "../../runbooks/lib/errors.ts";
import type { AwsSettings } from "../../runbooks/lib/aws.ts";
import type { Runbook } from "../../runbooks/lib/types.ts";
import { firstOf, randomFaults, unavailable, type FaultRule } from "../../rehearsal/stand-ins/aws-proxy.ts";
import { DR_DB, PRIMARY_REGION, SOURCE_DB } from "../../rehearsal/stand-ins/aws-seed.ts";
import { awsFor, useSeededMoto } from "../helpers/moto.ts";
import { runRunbook, workspace, type RunOutcome } from "../helpers/run-runbook.ts";
import { startFaultProxy, type Fault, type ProxiedRequest } from "../helpers/fault-proxy.ts";

/** Instances as `id:status`, without the security groups the state lists after them. */
const withoutGroups = (instances: unknown) =>
  (instances as string[]).map((x) => (/^[a-z0-9-]+:[a-z-]+:/i.test(x) ? x.split(":").slice(0, 2).join(":") : x));

const { moto, seeded, state } = useSeededMoto(test);

/** Retries as in production, with the backoff shortened from 0.2-20 s to 2-20 ms. */
const hostileClients = (endpoint: string, callTimeoutMs = 5000): AwsSettings => ({
  endpoint,
  maxAttempts: 12,
  retry: { baseMs: 2, capMs: 20, budgetMs: 20_000, callTimeoutMs },
});

const HOSTILE = { throttle: 0.2, unavailable: 0.03, reset: 0.02 };

interface Decision {
  req: ProxiedRequest;
  fault: Fault;
}

/** A proxy whose rule is `rules` then the seeded random faults; records what reached moto. */
async function hostile(t: ExecutionContext, seed: number, ...rules: FaultRule[]) {
  const decisions: Decision[] = [];
  const random = randomFaults({ seed, ...HOSTILE });
  const proxy = await startFaultProxy(moto().endpoint, async (req) => {
    const fault = await firstOf(...rules, random)(req);
    decisions.push({ req, fault });
    return fault;
  });
  t.teardown(() => proxy.close());
  return {
    proxy,
    decisions,
    /** Requests that reached moto (passed, or took effect with their answer lost). */
    reached: (pick: (r: ProxiedRequest) => boolean) =>
      decisions.filter((d) => (d.fault === undefined || d.fault === "lose-answer") && pick(d.req)).map((d) => d.req),
    faulted: () => decisions.filter((d) => d.fault !== undefined).length,
  };
}

const primaryDown: FaultRule = (r) => (r.service === "rds" && r.region === PRIMARY_REGION ? unavailable(r) : undefined);
const action = (name: string, region?: string) => (r: ProxiedRequest) =>
  r.action === name && (region === undefined || r.region === region);
const rrsetChange = (r: ProxiedRequest) => r.service === "route53" && /^POST .*\/rrset/.test(r.action);
const serviceIn = (r: ProxiedRequest) => (JSON.parse(r.body) as { service: string }).service;

function setup(t: ExecutionContext) {
  const ws = workspace(t);
  return { ws, base: ["--outputs", ws.writeOutputs(seeded().file), "--stack", "prod", "--state-dir", ws.stateDir] };
}

/** Every step ran at most once (a skipped step counts 0). */
function noStepRepeated(t: ExecutionContext, res: RunOutcome) {
  for (const s of res.report!.steps) t.true(s.attempts <= 1, `${s.id} ran ${s.attempts} times`);
}

async function run<O>(runbook: Runbook<O>, args: string[], aws: AwsSettings) {
  return runRunbook(runbook, args, { aws, sinks: snsSinks, notifications: { sendTimeoutMs: 2000, flushMs: 3000 } });
}

test.serial(
  "region-failover finishes under throttling, 503s and resets: one instance, one record change, counts set once",
  async (t) => {
    const { base } = setup(t);
    const h = await hostile(t, 11, primaryDown);
    const res = await run(
      regionFailover,
      [...base, "--yes", "--health-attempts", "3"],
      hostileClients(h.proxy.endpoint),
    );
    t.is(res.exitCode, EXIT.succeededWithCaveat, res.stdout + res.stderr);
    t.true(h.faulted() > 20, `faults injected: ${h.faulted()}`);
    noStepRepeated(t, res);
    t.deepEqual(withoutGroups((await state())["dr.instances"]), [`${DR_DB}:available`], "one restored instance");
    t.is(h.reached(action("RestoreDBInstanceFromDBSnapshot")).length, 1);
    // Traffic moves by the switch (a metric the DR region's alarm reads): no record is changed.
    t.is(h.reached(rrsetChange).length, 0, "no record change");
    t.true(h.reached(action("PutMetricData", "us-west-2")).length >= 1, "the switch was written");
    t.true(
      ((await state())["dr.alarms"] as string[]).some((a) =>
        a.startsWith(`${seeded().dr.failover.switch.alarmName}:ALARM`),
      ),
      "the switch is engaged",
    );
    const updates = h.reached(action("UpdateService", "us-west-2"));
    for (const svc of seeded().dr.services.services) {
      const mine = updates.filter((r) => serviceIn(r) === svc.name);
      t.is(mine.filter((r) => r.body.includes('"desiredCount"')).length, 1, `${svc.name}: desired count set once`);
      t.is(mine.filter((r) => r.body.includes('"forceNewDeployment":true')).length, 1, `${svc.name}: rolled once`);
    }
    t.is(h.reached(action("PutSecretValue")).length, 1);
    // The DR error-rate alarm is Pulumi's: the runbook only enables its actions, never re-creates it.
    t.is(h.reached(action("PutMetricAlarm")).length, 0);
    t.truthy(res.report?.journal?.shared, "the shared journal was kept through the faults");
  },
);

test.serial(
  "failback finishes under throttling, 503s and resets: one snapshot, one copy, one new primary",
  async (t) => {
    const { base } = setup(t);
    const down = await startFaultProxy(moto().endpoint, primaryDown);
    t.teardown(() => down.close());
    const fo = await runRunbook(regionFailover, [...base, "--yes", "--health-attempts", "1"], {
      aws: awsFor(down.endpoint),
    });
    t.is(fo.exitCode, EXIT.succeededWithCaveat, fo.stdout);
    const before = await state();
    const h = await hostile(t, 12);
    const res = await run(
      failback,
      [...base, "--writes-stopped", "--yes", "--health-attempts", "3"],
      hostileClients(h.proxy.endpoint),
    );
    t.is(res.exitCode, EXIT.succeeded, res.stdout + res.stderr);
    t.true(h.faulted() > 20, `faults injected: ${h.faulted()}`);
    noStepRepeated(t, res);
    const after = await state();
    // (moto also takes an automated "rds:" snapshot of each new instance: not ours, left out.)
    const added = (key: string) =>
      withoutGroups(after[key])
        .filter((x) => !withoutGroups(before[key]).includes(x) && !x.startsWith("rds:"))
        .map((x) => x.replace(/\d{14}/, "<t>"));
    t.deepEqual(added("prod.instances"), ["eventchain-prod-db-fb-<t>:available"], "one new primary");
    t.deepEqual(added("dr.snapshots"), ["eventchain-dr-db-failback-<t>"]);
    t.deepEqual(added("prod.snapshots"), ["eventchain-dr-db-failback-<t>"]);
    t.is(h.reached(rrsetChange).length, 0, "no record change: the switch is disengaged");
    for (const a of ["CreateDBSnapshot", "CopyDBSnapshot", "RestoreDBInstanceFromDBSnapshot", "PutSecretValue"])
      t.is(h.reached(action(a)).length, 1, a);
  },
);

test.serial(
  "service-recovery finishes under throttling, 503s and resets: one restart of the stopped service",
  async (t) => {
    const { base } = setup(t);
    const ecs = new ECSClient({ region: PRIMARY_REGION, endpoint: moto().endpoint, maxAttempts: 1 });
    const backend = seeded().prod.services.services[0]!.name;
    await ecs.send(
      new UpdateServiceCommand({ cluster: seeded().prod.services.clusterName, service: backend, desiredCount: 0 }),
    );
    const h = await hostile(t, 13);
    const res = await run(
      serviceRecovery,
      [...base, "--all", "--health-attempts", "3"],
      hostileClients(h.proxy.endpoint),
    );
    t.is(res.exitCode, EXIT.succeeded, res.stdout + res.stderr);
    t.true(h.faulted() > 0, `faults injected: ${h.faulted()}`);
    noStepRepeated(t, res);
    const updates = h.reached(action("UpdateService"));
    t.deepEqual(updates.map(serviceIn), [backend], "only the stopped service was updated, once");
    t.regex(updates[0]!.body, /"desiredCount":3/);
  },
);

test.serial(
  "database-recovery finishes under throttling, 503s and resets: one new instance, one secret update",
  async (t) => {
    const { base } = setup(t);
    await new RDSClient({ region: PRIMARY_REGION, endpoint: moto().endpoint, maxAttempts: 1 }).send(
      new StopDBInstanceCommand({ DBInstanceIdentifier: SOURCE_DB }),
    );
    const h = await hostile(t, 14);
    const res = await run(
      databaseRecovery,
      [...base, "--yes", "--health-attempts", "3"],
      hostileClients(h.proxy.endpoint),
    );
    t.is(res.exitCode, EXIT.succeeded, res.stdout + res.stderr);
    t.true(h.faulted() > 0, `faults injected: ${h.faulted()}`);
    noStepRepeated(t, res);
    const instances = withoutGroups((await state())["prod.instances"])
      .map((x) => x.replace(/\d{14}/, "<t>"))
      .sort();
    t.deepEqual(instances, [`${SOURCE_DB}-rec-<t>:available`, `${SOURCE_DB}:stopped`]);
    t.is(h.reached(action("RestoreDBInstanceToPointInTime")).length, 1);
    t.is(h.reached(action("PutSecretValue")).length, 1);
    const rolled = h.reached(action("UpdateService")).map(serviceIn).sort();
    t.deepEqual(
      rolled,
      seeded()
        .prod.services.services.map((s) => s.name)
        .sort(),
      "each service rolled once",
    );
  },
);

test.serial(
  "point-in-time-restore finishes under throttling, 503s and resets: one instance, one snapshot",
  async (t) => {
    const { base } = setup(t);
    const h = await hostile(t, 15);
    const res = await run(pitr, [...base, "--time", "latest"], hostileClients(h.proxy.endpoint));
    t.is(res.exitCode, EXIT.succeeded, res.stdout + res.stderr);
    t.true(h.faulted() > 0, `faults injected: ${h.faulted()}`);
    noStepRepeated(t, res);
    const s = await state();
    const pitrIds = (s["prod.instances"] as string[]).filter((x) => x.includes("-pitr-"));
    t.is(pitrIds.length, 1, "one restored instance");
    t.is((s["prod.snapshots"] as string[]).filter((x) => x.endsWith("-recovered")).length, 1, "one snapshot");
    t.is(h.reached(action("RestoreDBInstanceToPointInTime")).length, 1);
    t.is(h.reached(action("CreateDBSnapshot")).length, 1);
  },
);

test.serial("a lost answer never makes a second instance or deployment", async (t) => {
  const { base } = setup(t);
  const lost = new Set<string>();
  // The first restore and the first roll of each service reach AWS; their answers are lost.
  const loseFirst: FaultRule = (r) => {
    const key =
      r.action === "RestoreDBInstanceFromDBSnapshot"
        ? "restore"
        : r.action === "UpdateService" && r.body.includes('"forceNewDeployment":true')
          ? `roll ${serviceIn(r)}`
          : undefined;
    if (!key || lost.has(key)) return undefined;
    lost.add(key);
    return "lose-answer";
  };
  const h = await hostile(t, 16, primaryDown, loseFirst);
  const res = await run(regionFailover, [...base, "--yes", "--health-attempts", "3"], hostileClients(h.proxy.endpoint));
  t.is(res.exitCode, EXIT.succeededWithCaveat, res.stdout + res.stderr);
  t.is(lost.size, 3, [...lost].join(", "));
  t.deepEqual(withoutGroups((await state())["dr.instances"]), [`${DR_DB}:available`], "one instance");
  // The restore's re-send is answered "already exists" and taken as the lost attempt's success.
  t.regex(res.stderr, /rds:RestoreDBInstanceFromDBSnapshot \(us-west-2\): answered DBInstanceAlreadyExists/);
  // A forced deployment is looked up before it is sent again: one per service reached ECS.
  for (const svc of seeded().dr.services.services)
    t.is(
      h
        .reached(action("UpdateService"))
        .filter((r) => serviceIn(r) === svc.name && r.body.includes('"forceNewDeployment":true')).length,
      1,
      svc.name,
    );
  t.regex(res.stderr, /ecs:UpdateService \(us-west-2\): the earlier attempt took effect/);
});

test.serial("database-recovery looks its lost restore up instead of sending it again", async (t) => {
  const { base } = setup(t);
  await new RDSClient({ region: PRIMARY_REGION, endpoint: moto().endpoint, maxAttempts: 1 }).send(
    new StopDBInstanceCommand({ DBInstanceIdentifier: SOURCE_DB }),
  );
  let lostOne = false;
  const h = await hostile(t, 18, (r) =>
    r.action === "RestoreDBInstanceToPointInTime" && !lostOne ? ((lostOne = true), "lose-answer") : undefined,
  );
  const res = await run(
    databaseRecovery,
    [...base, "--yes", "--health-attempts", "3"],
    hostileClients(h.proxy.endpoint),
  );
  t.is(res.exitCode, EXIT.succeeded, res.stdout + res.stderr);
  t.true(lostOne);
  t.is(h.reached(action("RestoreDBInstanceToPointInTime")).length, 1, "not sent again");
  t.is(((await state())["prod.instances"] as string[]).filter((x) => x.includes("-rec-")).length, 1);
});

test.serial("a call that hangs is abandoned after its timeout and retried; the run does not hang", async (t) => {
  const { base } = setup(t);
  let hung = 0;
  const hangTwice: FaultRule = (r) => (r.action === "DescribeTargetHealth" && hung < 2 ? (hung++, "hang") : undefined);
  const h = await hostile(t, 17, primaryDown, hangTwice);
  const res = await run(
    regionFailover,
    [...base, "--yes", "--health-attempts", "3"],
    hostileClients(h.proxy.endpoint, 500),
  );
  t.is(res.exitCode, EXIT.succeededWithCaveat, res.stdout + res.stderr);
  t.is(hung, 2, "both target groups' first health reads hung");
  t.is(res.report!.steps.find((s) => s.id === "verify-targets")!.status, "succeeded");
});

test.serial(
  "a call throttled past its budget fails its step naming the call, the error and the resume command; DNS stays",
  async (t) => {
    const { ws, base } = setup(t);
    const before = await state();
    const throttledScale: FaultRule = (r) =>
      r.action === "UpdateService" && r.region === "us-west-2"
        ? {
            status: 400,
            contentType: "application/x-amz-json-1.1",
            headers: { "x-amzn-errortype": "ThrottlingException" },
            body: '{"__type":"ThrottlingException","message":"Rate exceeded"}',
          }
        : undefined;
    const proxy = await startFaultProxy(moto().endpoint, firstOf(primaryDown, throttledScale));
    t.teardown(() => proxy.close());
    const res = await run(regionFailover, [...base, "--yes", "--run-id", "budget1", "--health-attempts", "1"], {
      ...hostileClients(proxy.endpoint),
      maxAttempts: 4,
    });
    t.is(res.exitCode, EXIT.failed);
    t.regex(
      res.stdout,
      /region-failover FAILED at step "scale-services": ecs:UpdateService \(us-west-2\) failed 4 time\(s\), last with throttling: Rate exceeded \(HTTP 400\); not retried again: 4 attempts per call\. Fix the cause, then resume: npx zx runbooks\/region-failover\.ts --resume budget1 --state-dir /,
    );
    t.is(ws.journal("budget1").steps["scale-services"]!.status, "failed");
    t.deepEqual((await state()).records, before.records, "DNS not moved");
  },
);
