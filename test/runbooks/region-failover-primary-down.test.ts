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
import { firstOf, regionDown, type FaultRule } from "../../rehearsal/stand-ins/aws-proxy.ts";
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
    `cannot read outputs of stack "${stack}": error: failed to load checkpoint: blob (key ` +
      `".pulumi/stacks/eventchain-dr/${stack}.json") (code=Unknown): RequestError: send request failed: ` +
      `dial tcp: i/o timeout`,
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
/** The two probes of assess-primary: Route 53's health-check status and the primary database. */
const isProbe = (r: ProxiedRequest) =>
  r.region === PRIMARY_REGION &&
  ((r.service === "route53" && r.action === "GET /healthcheck/{id}/status") ||
    (r.service === "rds" && r.action === "DescribeDBInstances"));

/**
 * Refuses the two probes only once both have arrived, so the run proves they were sent side by
 * side without timing them: sent one after the other, the first would be held until its bound ran
 * out and be reported as "no answer within …". Everything else signed for the region is refused.
 */
function probesTogether(t: ExecutionContext): FaultRule {
  let probes = 0;
  let release!: () => void;
  const both = new Promise<void>((resolve) => (release = resolve));
  t.teardown(() => release());
  return firstOf(
    async (r) => {
      if (!isProbe(r) || probes >= 2) return undefined;
      if (++probes === 2) release();
      await both;
      return "reset";
    },
    regionDown(PRIMARY_REGION, "reset"),
  );
}

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
    // Quietly the run takes 2–3 s; before the probes were bounded side by side it took 195 s.
    t.timeout(60_000);
    const ws = workspace(t);
    const p = await proxy(t, probesTogether(t));
    const warnings: string[] = [];
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
    // Succeeded, the primary NOT fenced (its region refuses): exit 5, so automation tells it from a clean run.
    t.is(res.exitCode, EXIT.succeededWithCaveat, res.stdout + res.stderr);
    t.regex(res.stdout, /region-failover succeeded within objectives — PRIMARY NOT FENCED/);
    t.regex(
      res.stdout,
      /Never delete eventchain-prod-db in us-east-1: .* It is NOT fenced yet \(see above\): fence it first/,
    );
    t.notRegex(res.stdout, /fenced, not deleted/, "an unfenced primary is never called fenced");
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
    // Both refused, neither held to its bound: the probes were out together.
    t.false(
      assess.unreachable.some((u: string) => /no answer within/.test(u)),
      assess.unreachable.join("; "),
    );
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
    // Quietly the run takes about 4 s; had anything waited on the hung region past its bound, far longer.
    t.timeout(60_000);
    const ws = workspace(t);
    const file = ws.writeOutputs(seeded().file);
    const p = await proxy(t, regionDown(PRIMARY_REGION, "hang"));
    const warnings: string[] = [];
    const res = await runRunbook(
      runbook,
      [
        ...["--outputs", file, "--stack", "prod", "--state-dir", ws.stateDir, "--yes", "--run-id", "down2"],
        ...["--health-attempts", "1", "--primary-timeout-seconds", "1"],
      ],
      { aws: awsFor(p.endpoint), sinks: (o, cl, peer) => failoverSinks(o, cl, peer, (m) => void warnings.push(m)) },
    );
    t.is(res.exitCode, EXIT.succeededWithCaveat, res.stdout + res.stderr);
    await trafficOnDr(t);
    const step = (id: string) => res.report!.steps.find((s) => s.id === id)!;
    const at = (iso: string | null) => Date.parse(iso!);
    // Each probe gave up at its bound (that they run side by side is the test above).
    const assess = step("assess-primary").outputs as Record<string, any>;
    t.deepEqual(
      assess.unreachable.map((u: string) => u.replace(/^(\S+ \S+).*(no answer within 1 s)$/, "$1: $2")),
      ["route53 GetHealthCheckStatus: no answer within 1 s", "rds DescribeDBInstances: no answer within 1 s"],
    );
    // The DR work started alongside the probes (the read-only source choice), and the restore as
    // soon as they had given up: it waited on nothing else, the hung start notification included.
    t.true(at(step("choose-recovery-source").startedAt) < at(step("assess-primary").endedAt));
    t.true(at(step("restore-database").startedAt) >= at(step("assess-primary").endedAt));
    // The fence gave up at its bounds too, and says so.
    const fence = step("fence-primary").outputs as { fenced: boolean; unreachable: string[] };
    t.false(fence.fenced);
    t.is(fence.unreachable.length, 3, fence.unreachable.join("; "));
    t.true(
      fence.unreachable.every((u) => /no answer within 1 s$/.test(u)),
      fence.unreachable.join("; "),
    );
    t.regex(res.report!.caveats![0]!, /^primary not fenced: 3 call\(s\) to us-east-1 did not succeed/);
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
