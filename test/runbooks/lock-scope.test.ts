/**
 * The runbooks that act on the same traffic, switch and database share one run lock on the stack
 * pair (the "traffic" lock scope): while region-failover runs, failback, fence-primary, lift-fence
 * and service-recovery (on either stack of the pair) are refused naming it, and change nothing; once
 * it has finished, the next one runs. Against moto, with the failover switch simulated
 * (test/helpers/failover.ts).
 */
import test, { type ExecutionContext } from "ava";
import { PutObjectCommand } from "@aws-sdk/client-s3";
import { hostname } from "node:os";
import { runbook as failover } from "../../runbooks/region-failover.ts";
import { runbook as failback } from "../../runbooks/failback.ts";
import { runbook as fence } from "../../runbooks/fence-primary.ts";
import { runbook as liftFence } from "../../runbooks/lift-fence.ts";
import { runbook as serviceRecovery } from "../../runbooks/service-recovery.ts";
import { BackupS3Client } from "../../runbooks/aws/s3-object.ts";
import { EXIT } from "../../runbooks/lib/errors.ts";
import type { LockRecord } from "../../runbooks/lib/run-lock.ts";
import type { Runbook } from "../../runbooks/lib/types.ts";
import { regionDown, firstOf, type FaultRule, type ProxiedRequest } from "../../rehearsal/stand-ins/aws-proxy.ts";
import { DR_REGION, PRIMARY_REGION } from "../../rehearsal/stand-ins/aws-seed.ts";
import { RUN_JOURNAL_BUCKET } from "../../rehearsal/stand-ins/seeded-outputs.ts";
import { awsFor } from "../helpers/moto.ts";
import { useFailoverMoto } from "../helpers/failover.ts";
import { runRunbook, workspace } from "../helpers/run-runbook.ts";

const { moto, seeded, proxy, answer, state, engageSwitch } = useFailoverMoto(test);
const SCOPE_LOCK = "runs/scopes/traffic/dr+prod/lock.json";

/** Holds the first request `match` accepts until `release()`; `arrived` resolves when it comes. */
function holdFirst(t: ExecutionContext, match: (r: ProxiedRequest) => boolean) {
  let release!: () => void;
  let arrive!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  const arrived = new Promise<void>((resolve) => (arrive = resolve));
  let seen = false;
  const rule: FaultRule = async (r) => {
    if (seen || !match(r)) return undefined;
    seen = true;
    arrive();
    await released;
    return undefined;
  };
  t.teardown(() => release());
  return { rule, arrived, release };
}

/** Another responder: its own state directory, the same outputs file. */
function responder(t: ExecutionContext, file: string) {
  const ws = workspace(t);
  const on = (stack: string) => ["--outputs", file, "--stack", stack, "--state-dir", ws.stateDir];
  return { ws, on, base: on("prod") };
}

test.serial(
  "while region-failover runs, failback, fence-primary, lift-fence and service-recovery are refused naming it and change nothing; after it, failback runs",
  async (t) => {
    const file = workspace(t).writeOutputs(seeded().file);
    // Frozen at the switch: every earlier step has finished, nothing else is in flight.
    const hold = holdFirst(t, (r) => r.service === "monitoring" && r.action === "PutMetricData");
    const p = await proxy(t, firstOf(regionDown(PRIMARY_REGION), hold.rule));
    const alice = responder(t, file);
    const running = runRunbook(
      failover,
      [...alice.base, "--yes", "--run-id", "fo-held", "--health-attempts", "1", "--primary-timeout-seconds", "2"],
      { aws: awsFor(p.endpoint) },
    );
    await Promise.race([
      hold.arrived,
      running.then((r) => Promise.reject(new Error(`region-failover ended before the switch: ${r.stdout}`))),
    ]);
    const before = await state();
    const bob = responder(t, file);
    const holder = `region-failover run fo-held \\(stack prod\\) on host ${hostname()} \\(pid ${process.pid}[^)]*\\), started \\S+Z, last heartbeat \\S+Z \\(\\d+ s ago\\)`;
    const refusals: { runbook: Runbook<any>; args: string[] }[] = [
      { runbook: failback, args: [...bob.base, "--writes-stopped", "--yes", "--health-attempts", "1"] },
      { runbook: fence, args: [...bob.base, "--yes"] },
      // Lifting a fence under a failover would be split brain: the same lock.
      { runbook: liftFence, args: [...bob.base, "--fence", "fo-held", "--yes"] },
      // The other stack of the pair: the same lock.
      { runbook: serviceRecovery, args: [...bob.on("dr"), "--all"] },
    ];
    for (const { runbook, args } of refusals) {
      const res = await runRunbook(runbook, args, { aws: awsFor(p.endpoint) });
      t.is(res.exitCode, EXIT.badInput, `${runbook.name}: ${res.stdout}`);
      t.regex(
        res.stdout,
        new RegExp(
          `bad input: another run holds the lock of the "traffic" scope on stacks dr\\+prod: ${holder}\\. Only ` +
            `one run at a time: follow that run, or wait until it ends\\. ${runbook.name} shares this lock with ` +
            `region-failover: run it again once that run has ended\\.`,
        ),
        `${runbook.name}: ${res.stderr}`,
      );
      t.notRegex(res.stdout, /Resume with|--resume \S+ --state-dir/, `${runbook.name}: no resume hint`);
    }
    t.deepEqual(await state(), before, "the refused runs changed nothing");
    t.deepEqual(bob.ws.runIds(), [], "the refused runs left no journal");

    hold.release();
    const fo = await running;
    t.is(fo.exitCode, EXIT.succeededWithCaveat, fo.stdout + fo.stderr);
    t.is(await answer(), seeded().dr.services.loadBalancerDnsName.toLowerCase());

    // The primary region answers again: failback now takes the lock and runs.
    p.setRule(() => undefined);
    const fb = await runRunbook(failback, [...bob.base, "--writes-stopped", "--yes", "--health-attempts", "1"], {
      aws: awsFor(p.endpoint),
    });
    t.is(fb.exitCode, EXIT.succeeded, fb.stdout + fb.stderr);
    t.is(await answer(), seeded().prod.dns.primaryTarget.toLowerCase());
  },
);

test.serial(
  "a silent holder of another runbook of the scope: refused with how to continue it, taken over only with --take-over",
  async (t) => {
    await engageSwitch(); // alice's region-failover got that far before her machine went silent
    const file = workspace(t).writeOutputs(seeded().file);
    const p = await proxy(t);
    const at = (minutesAgo: number) => new Date(Date.now() - minutesAgo * 60_000).toISOString();
    const held: LockRecord = {
      version: 1,
      runbook: "region-failover",
      stack: "prod",
      scope: "traffic",
      runId: "region-failover-alice-1",
      host: "laptop-of-alice",
      pid: 4242,
      user: "alice",
      startedAt: at(20),
      heartbeatAt: at(6),
      state: "held",
    };
    await new BackupS3Client({ region: DR_REGION, endpoint: moto().endpoint, maxAttempts: 1 }).send(
      new PutObjectCommand({ Bucket: RUN_JOURNAL_BUCKET, Key: SCOPE_LOCK, Body: JSON.stringify(held) }),
    );
    const bob = responder(t, file);
    const before = await state();
    const refused = await runRunbook(fence, [...bob.base, "--yes"], { aws: awsFor(p.endpoint) });
    t.is(refused.exitCode, EXIT.badInput, refused.stdout);
    t.regex(
      refused.stdout,
      /another run holds the lock of the "traffic" scope on stacks dr\+prod: region-failover run region-failover-alice-1 \(stack prod\) on host laptop-of-alice \(pid 4242, user alice\), started \S+, last heartbeat \S+ \(6 min ago\), silent for longer than 5 min\. If that machine is gone, take over with --take-over \(logged\); to continue its work instead: run region-failover with --resume region-failover-alice-1 --stack prod --take-over\./,
    );
    t.deepEqual(await state(), before);
    t.deepEqual(bob.ws.runIds(), []);

    const taken = await runRunbook(fence, [...bob.base, "--yes", "--take-over", "--run-id", "fence-bob-1"], {
      aws: awsFor(p.endpoint),
    });
    t.is(taken.exitCode, EXIT.succeeded, taken.stdout + taken.stderr);
    t.regex(
      taken.stderr,
      /TAKING OVER the run lock of the "traffic" scope on stacks dr\+prod from region-failover run region-failover-alice-1 \(stack prod\) on host laptop-of-alice .* because of --take-over/,
    );
  },
);
