/**
 * region-failover on the day: every endpoint signed for us-east-1 — the primary region's APIs and
 * Route 53's control plane (its SigV4 region is us-east-1) — refuses connections, then hangs.
 * The run must still put traffic on DR (switch engaged, proven at the authoritative name servers,
 * DR database restored, services at their recovery counts), with each probe giving up within its
 * bound, the primary reported unfenced, and no minutes lost waiting. Inputs come from the
 * DR-region outputs mirror when the state backend is unreachable too. moto's gaps are filled by
 * test/helpers/failover.ts (DNS data plane, alarm evaluation).
 */
import test, { type ExecutionContext } from "ava";
import { CloudWatchClient, DescribeAlarmsCommand } from "@aws-sdk/client-cloudwatch";
import { DescribeDBInstancesCommand, RDSClient } from "@aws-sdk/client-rds";
import { DescribeServicesCommand, ECSClient } from "@aws-sdk/client-ecs";
import { runbook } from "../../runbooks/region-failover.ts";
import { failoverSinks } from "../../runbooks/aws/alert-topic-sinks.ts";
import { s3OutputsMirror } from "../../runbooks/aws/outputs-mirror-reader.ts";
import { firstOf, regionDown } from "../../rehearsal/stand-ins/aws-proxy.ts";
import { DR_DB, DR_REGION, PRIMARY_REGION } from "../../rehearsal/stand-ins/aws-seed.ts";
import { EXIT } from "../../runbooks/lib/errors.ts";
import { BadInputError } from "../../runbooks/lib/errors.ts";
import { awsFor } from "../helpers/moto.ts";
import { useFailoverMoto } from "../helpers/failover.ts";
import { runRunbook, workspace } from "../helpers/run-runbook.ts";
import type { ProxiedRequest } from "../helpers/fault-proxy.ts";

const { moto, seeded, proxy, answer, state } = useFailoverMoto(test);
const c = (region: string) => ({ region, endpoint: moto().endpoint, maxAttempts: 1 });

/** The state backend is unreachable: `pulumi stack output` fails as the CLI does. */
const backendDown = async (stack: string): Promise<never> => {
  throw new BadInputError(
    `cannot read outputs of stack "${stack}": error: failed to load checkpoint: blob (key ".pulumi/stacks/eventchain-dr/${stack}.json") (code=Unknown): RequestError: send request failed: dial tcp: i/o timeout`,
  );
};

/** What a failover may still ask of us-east-1: the bounded probes, the bounded fence, the background notification. */
const ALLOWED_PRIMARY_CALLS = new Set([
  "route53:GET /healthcheck/{id}/status",
  "rds:DescribeDBInstances",
  "ecs:UpdateService",
  "ecs:DescribeServices",
  "sns:Publish",
]);
const primaryCalls = (seen: ProxiedRequest[]) =>
  [...new Set(seen.filter((r) => r.region === PRIMARY_REGION).map((r) => `${r.service}:${r.action}`))].sort();

async function trafficOnDr(t: ExecutionContext) {
  const alarm = (
    await new CloudWatchClient(c(DR_REGION)).send(
      new DescribeAlarmsCommand({ AlarmNames: [seeded().dr.failover.switch.alarmName] }),
    )
  ).MetricAlarms![0]!;
  t.is(alarm.StateValue, "ALARM", "switch engaged");
  t.is(await answer(), seeded().dr.services.loadBalancerDnsName.toLowerCase(), "authoritative answer: DR");
  const db = (await new RDSClient(c(DR_REGION)).send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: DR_DB })))
    .DBInstances![0]!;
  t.is(db.DBInstanceStatus, "available");
  const svc = (
    await new ECSClient(c(DR_REGION)).send(
      new DescribeServicesCommand({
        cluster: seeded().dr.services.clusterName,
        services: seeded().dr.services.services.map((s) => s.name),
      }),
    )
  ).services!.map((s) => s.desiredCount);
  t.deepEqual(svc, [3, 2]);
}

test.serial(
  "completes with traffic on DR while us-east-1 and Route 53's control plane refuse connections, inputs from the DR mirror",
  async (t) => {
    const ws = workspace(t);
    const p = await proxy(t, regionDown(PRIMARY_REGION, "reset"));
    const warnings: string[] = [];
    const started = Date.now();
    const res = await runRunbook(
      runbook,
      ["--stack", "prod", "--state-dir", ws.stateDir, "--yes", "--run-id", "down1", "--health-attempts", "1"],
      {
        aws: awsFor(p.endpoint),
        pulumi: backendDown,
        outputsMirror: s3OutputsMirror,
        sinks: (o, cl, peer) => failoverSinks(o, cl, peer, (m) => void warnings.push(m)),
      },
    );
    const ms = Date.now() - started;
    // Succeeded, the primary NOT fenced (its region refuses): exit 5, so automation tells it from a clean run.
    t.is(res.exitCode, EXIT.succeededWithCaveat, res.stdout + res.stderr);
    t.regex(res.stdout, /region-failover succeeded within objectives — PRIMARY NOT FENCED/);
    t.regex(
      res.stdout,
      /Never delete eventchain-prod-db in us-east-1: .* It is NOT fenced yet \(see above\): fence it first/,
    );
    t.notRegex(res.stdout, /fenced, not deleted/, "an unfenced primary is never called fenced");
    t.true(ms < 15_000, `the run took ${ms} ms`);
    t.regex(
      res.stderr,
      /outputs of stack prod come from the DR-region mirror s3:\/\/eventchain-dr-outputs-123456789012-us-west-2\/stacks\/prod\.json \(version [^,]+, written [^)]+\), not from Pulumi: the state backend is unreachable/,
    );
    t.regex(res.stderr, /outputs of stack dr come from the DR-region mirror .*stacks\/dr\.json/);
    await trafficOnDr(t);

    const report = res.report!;
    const assess = report.steps.find((s) => s.id === "assess-primary")!.outputs as Record<string, any>;
    t.is(assess.unreachable.length, 2);
    t.regex(assess.unreachable[0], /^route53 GetHealthCheckStatus .* \(us-east-1 control plane\): /);
    t.regex(assess.unreachable[1], /^rds DescribeDBInstances eventchain-prod-db \(us-east-1\): /);
    t.is(report.verdict, "objectives_met");
    t.is(report.caveats?.length, 1);
    t.regex(report.caveats![0]!, /^primary not fenced: /);
    t.regex(res.stdout, /region-failover succeeded within objectives — PRIMARY NOT FENCED: RTO/);
    t.regex(report.nextSteps[0]!, /^PRIMARY NOT FENCED \(.*\)\. .*run npx zx runbooks\/fence-primary\.ts --stack prod/);
    t.regex(
      report.nextSteps[1]!,
      /^Could not be reached during the run \(bounded, optional probes\): route53 GetHealthCheckStatus/,
    );
    // Nothing asked of the failed region but the bounded probes, the fence and the background notice.
    t.deepEqual(
      primaryCalls(p.seen).filter((k) => !ALLOWED_PRIMARY_CALLS.has(k)),
      [],
    );
    t.false(p.seen.some((r) => r.service === "route53" && r.action.startsWith("POST")));
  },
);

test.serial(
  "completes with traffic on DR while us-east-1 and Route 53's control plane hang; each probe gives up within its bound",
  async (t) => {
    const ws = workspace(t);
    const file = ws.writeOutputs(seeded().file);
    const p = await proxy(t, regionDown(PRIMARY_REGION, "hang"));
    const warnings: string[] = [];
    const started = Date.now();
    const res = await runRunbook(
      runbook,
      [
        ...["--outputs", file, "--stack", "prod", "--state-dir", ws.stateDir, "--yes", "--run-id", "down2"],
        ...["--health-attempts", "1", "--primary-timeout-seconds", "1"],
      ],
      { aws: awsFor(p.endpoint), sinks: (o, cl, peer) => failoverSinks(o, cl, peer, (m) => void warnings.push(m)) },
    );
    const ms = Date.now() - started;
    t.is(res.exitCode, EXIT.succeededWithCaveat, res.stdout + res.stderr);
    await trafficOnDr(t);
    const step = (id: string) => res.report!.steps.find((s) => s.id === id)!;
    // The probes ran side by side: together about one bound, not two (they used to take 20 s each).
    t.true(
      step("assess-primary").durationMs! >= 900 && step("assess-primary").durationMs! < 2500,
      `probes ${step("assess-primary").durationMs} ms`,
    );
    const assess = step("assess-primary").outputs as Record<string, any>;
    t.deepEqual(
      assess.unreachable.map((u: string) => u.replace(/^(\S+ \S+).*(no answer within 1 s)$/, "$1: $2")),
      ["route53 GetHealthCheckStatus: no answer within 1 s", "rds DescribeDBInstances: no answer within 1 s"],
    );
    // The DR work started right away (the read-only source choice) and changes waited one bound at most,
    // not on the hung start notification to the primary's topic.
    t.true(Date.parse(step("choose-recovery-source").startedAt!) - Date.parse(res.report!.startedAt) < 1000);
    t.true(Date.parse(step("restore-database").startedAt!) - Date.parse(res.report!.startedAt) < 2500);
    // The fence gave up within its bounds too, and says so.
    t.true(step("fence-primary").durationMs! < 3500, `fence ${step("fence-primary").durationMs} ms`);
    t.like(step("fence-primary").outputs, { fenced: false });
    t.regex(res.report!.caveats![0]!, /^primary not fenced: 3 call\(s\) to us-east-1 did not succeed/);
    t.true(ms < 20_000, `the run took ${ms} ms (it took about 195 s before the probes were bounded side by side)`);
  },
);

test.serial(
  "with the state backend and the DR mirror both unreachable it stops with both reasons, changing nothing",
  async (t) => {
    const ws = workspace(t);
    const p = await proxy(
      t,
      firstOf(regionDown(PRIMARY_REGION), (r) => (r.service === "s3" && r.region === DR_REGION ? "reset" : undefined)),
    );
    const before = await state();
    const res = await runRunbook(runbook, ["--stack", "prod", "--state-dir", ws.stateDir, "--yes"], {
      aws: awsFor(p.endpoint),
      pulumi: backendDown,
      outputsMirror: s3OutputsMirror,
    });
    t.is(res.exitCode, EXIT.badInput);
    t.regex(
      res.stdout,
      /cannot read outputs of stack "prod": .*i\/o timeout; nor its copy in the DR-region mirror: s3 GetObject s3:\/\/eventchain-dr-outputs-123456789012-us-west-2\/stacks\/prod\.json \(us-west-2\): .*Use --outputs <file\.json> with a saved copy/,
    );
    t.deepEqual(await state(), before);
    t.deepEqual(ws.runIds(), []);
  },
);
