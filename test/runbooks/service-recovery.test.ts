import test, { type ExecutionContext } from "ava";
import { DescribeServicesCommand, ECSClient, UpdateServiceCommand, type Service } from "@aws-sdk/client-ecs";
import { runbook } from "../../runbooks/service-recovery.ts";
import { EXIT } from "../../runbooks/lib/errors.ts";
import { awsFor, useSeededMoto } from "../helpers/moto.ts";
import { PRIMARY_REGION } from "../../rehearsal/stand-ins/aws-seed.ts";
import { runRunbook, workspace } from "../helpers/run-runbook.ts";
import { fixture, startFaultProxy } from "../helpers/fault-proxy.ts";

const { moto, seeded, state } = useSeededMoto(test);

const ecs = () => new ECSClient({ region: PRIMARY_REGION, endpoint: moto().endpoint, maxAttempts: 1 });
const BACKEND = "eventchain-backend-prod";
const FRONTEND = "eventchain-frontend-prod";

function setup(t: ExecutionContext) {
  const ws = workspace(t);
  return { ws, base: ["--outputs", ws.writeOutputs(seeded().file), "--stack", "prod", "--state-dir", ws.stateDir] };
}

/** All of the backend's tasks are gone (moto keeps runningCount = desiredCount, so desired 0 = none running). */
async function backendDown() {
  await ecs().send(
    new UpdateServiceCommand({ cluster: seeded().prod.services.clusterName, service: BACKEND, desiredCount: 0 }),
  );
}
async function live() {
  const res = await ecs().send(
    new DescribeServicesCommand({ cluster: seeded().prod.services.clusterName, services: [BACKEND, FRONTEND] }),
  );
  return Object.fromEntries(res.services!.map((s) => [s.serviceName, s]));
}

test.serial("restarts a service with no running task at its recovery count and checks its targets", async (t) => {
  const { ws, base } = setup(t);
  await backendDown();
  const primary = (s: Service | undefined) => s!.deployments!.find((d) => d.status === "PRIMARY")!;
  const deploymentBefore = primary((await live())[BACKEND]);
  const res = await runRunbook(runbook, [...base, "--service", BACKEND, "--run-id", "sr1", "--health-attempts", "1"], {
    aws: awsFor(moto().endpoint),
  });
  t.is(res.exitCode, EXIT.succeeded, res.stdout + res.stderr);
  const after = (await live())[BACKEND]!;
  t.is(after.desiredCount, 3);
  t.is(after.runningCount, 3);
  // A forced deployment replaces the PRIMARY one: a new id, started after the old one.
  const deployed = primary(after);
  t.not(deployed.id, deploymentBefore.id, "a new deployment was forced");
  t.true(deployed.createdAt!.getTime() >= deploymentBefore.createdAt!.getTime());
  t.is(deployed.desiredCount, 3);
  const journal = ws.journal("sr1");
  t.like(journal.steps["restart-eventchain-backend-prod"]!.outputs, { previousDesired: 0, desiredCount: 3 });
  t.like(journal.steps["check-eventchain-backend-prod"]!.outputs, { healthy: 1, total: 1 });
  t.is(res.report?.system, "core-api");
  t.is(res.report?.verdict, "objectives_met");
  t.is(res.report?.rpo.met, null, "no data restored: RPO does not apply");
});

test.serial("--all recovers every service side by side and leaves running ones alone", async (t) => {
  const { ws, base } = setup(t);
  await backendDown();
  const res = await runRunbook(runbook, [...base, "--all", "--run-id", "sr2", "--health-attempts", "1"], {
    aws: awsFor(moto().endpoint),
  });
  t.is(res.exitCode, EXIT.succeeded, res.stdout);
  const steps = ws.journal("sr2").steps;
  t.is(steps["restart-eventchain-backend-prod"]!.status, "succeeded");
  t.is(steps["restart-eventchain-frontend-prod"]!.status, "skipped");
  t.is(steps["restart-eventchain-frontend-prod"]!.outputs!.note, "tasks running: no restart");
  const l = await live();
  t.deepEqual([l[BACKEND]!.desiredCount, l[FRONTEND]!.desiredCount], [3, 2]);
});

test.serial("healthy services: a run changes nothing", async (t) => {
  const { base } = setup(t);
  const before = await state();
  const res = await runRunbook(runbook, [...base, "--all", "--health-attempts", "1"], { aws: awsFor(moto().endpoint) });
  t.is(res.exitCode, EXIT.succeeded, res.stdout);
  t.deepEqual(await state(), before);
});

test.serial("unhealthy targets fail the recovery and offer the region failover", async (t) => {
  const { base } = setup(t);
  await backendDown();
  const proxy = await startFaultProxy(moto().endpoint, (r) =>
    r.action === "DescribeTargetHealth"
      ? { status: 200, body: fixture("elbv2-describe-target-health-unhealthy.xml") }
      : undefined,
  );
  t.teardown(() => proxy.close());
  const res = await runRunbook(runbook, [...base, "--service", BACKEND, "--health-attempts", "1"], {
    aws: awsFor(proxy.endpoint),
  });
  t.is(res.exitCode, EXIT.failed);
  t.regex(
    res.stdout,
    /FAILED at step "check-eventchain-backend-prod": eventchain-backend-prod: target health not reached after 1 check\(s\)/,
  );
  t.regex(res.stdout, /fail over the region .*: npx zx runbooks\/region-failover\.ts --stack prod --force/);
  t.is(res.report?.failure?.stepId, "check-eventchain-backend-prod");
});

test.serial("a deployment that never stabilises times out within --max-wait-minutes", async (t) => {
  const { base } = setup(t);
  await backendDown();
  let described = 0;
  const proxy = await startFaultProxy(moto().endpoint, (r) => {
    // The first DescribeServices calls (inspect, isDone, before) see moto; afterwards tasks keep failing to start.
    if (r.action === "DescribeServices" && ++described > 3)
      return {
        status: 200,
        body: fixture("ecs-describe-services-stuck.json"),
        contentType: "application/x-amz-json-1.1",
      };
    return undefined;
  });
  t.teardown(() => proxy.close());
  const res = await runRunbook(
    runbook,
    [...base, "--service", BACKEND, "--max-wait-minutes", "0.05", "--health-attempts", "1"],
    { aws: awsFor(proxy.endpoint) },
  );
  t.is(res.exitCode, EXIT.failed);
  t.regex(
    res.stdout,
    /FAILED at step "restart-eventchain-backend-prod": eventchain-backend-prod did not become stable within 0\.05 min/,
  );
  t.regex(res.stdout, /region-failover\.ts --stack prod --force/);
});

test.serial("an interrupt stops a long waiter at once; the run exits 130 and can be resumed", async (t) => {
  const { ws, base } = setup(t);
  await backendDown();
  const controller = new AbortController();
  let described = 0;
  const proxy = await startFaultProxy(moto().endpoint, (r) => {
    if (r.action === "DescribeServices" && ++described > 3) {
      // The operator presses Ctrl-C while the waiter sits between polls.
      setImmediate(() => controller.abort());
      return {
        status: 200,
        body: fixture("ecs-describe-services-stuck.json"),
        contentType: "application/x-amz-json-1.1",
      };
    }
    return undefined;
  });
  t.teardown(() => proxy.close());
  const res = await runRunbook(
    runbook,
    [...base, "--service", BACKEND, "--run-id", "sr3", "--max-wait-minutes", "30", "--health-attempts", "1"],
    { aws: awsFor(proxy.endpoint), signal: controller.signal },
  );
  t.is(res.exitCode, EXIT.interrupted, res.stdout);
  t.is(res.report?.failure?.stepId, "restart-eventchain-backend-prod");
  const resumed = await runRunbook(runbook, [...base, "--resume", "sr3", "--health-attempts", "1"], {
    aws: awsFor(moto().endpoint),
  });
  t.is(resumed.exitCode, EXIT.succeeded, resumed.stdout);
  t.is(ws.journal("sr3").steps["check-eventchain-backend-prod"]!.status, "succeeded");
});

test.serial("dry run changes nothing", async (t) => {
  const { ws, base } = setup(t);
  await backendDown();
  const before = await state();
  const res = await runRunbook(runbook, [...base, "--all", "--dry-run"], { aws: awsFor(moto().endpoint) });
  t.is(res.exitCode, EXIT.succeeded);
  t.regex(
    res.stderr,
    /ecs:UpdateService \(us-east-1\) if runningCount is 0 .*"service":"eventchain-backend-prod","forceNewDeployment":true/,
  );
  t.deepEqual(await state(), before);
  t.deepEqual(ws.runIds(), []);
});

test.serial("bad targets are refused with the known services", async (t) => {
  const { base } = setup(t);
  const cases: [string[], RegExp][] = [
    [
      ["--service", "payments"],
      /unknown --service "payments" in cluster eventchain-prod: expected one of eventchain-backend-prod, eventchain-frontend-prod \(or --all\)/,
    ],
    [[], /missing target: give --service <name> or --all/],
    [["--service", BACKEND, "--all"], /either --service <name> or --all, not both/],
    [["--all", "--health-attempts", "1.5"], /invalid --health-attempts "1\.5": expected a whole number from 1 to 1000/],
  ];
  for (const [args, message] of cases) {
    const res = await runRunbook(runbook, [...base, ...args], { aws: awsFor(moto().endpoint) });
    t.is(res.exitCode, EXIT.badInput, args.join(" "));
    t.regex(res.stdout, message);
  }
});
