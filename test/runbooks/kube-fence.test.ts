/**
 * Fencing every writer of the old primary, Kubernetes included: region-failover against moto plus
 * a Kubernetes API. The API is a real kube-apiserver over etcd when both binaries are on this
 * machine (test/helpers/kube-api.ts); otherwise — as on CI, which does not build them — a
 * stand-in answering the official client (`@kubernetes/client-node`) with responses in the shape
 * of the Kubernetes API reference (Deployment, autoscaling/v1 Scale, Status). Each test logs which.
 */
import test, { type ExecutionContext } from "ava";
import { KUBE_FENCE_ANNOTATION } from "../../runbooks/platform/kube-fence.ts";
import { runbook as failover } from "../../runbooks/region-failover.ts";
import { runbook as failback } from "../../runbooks/failback.ts";
import { runbook as liftFence } from "../../runbooks/lift-fence.ts";
import { writeFileSync } from "node:fs";
import { EXIT } from "../../runbooks/lib/errors.ts";
import { awsFor } from "../helpers/moto.ts";
import { useFailoverMoto } from "../helpers/failover.ts";
import { kubeApi, type KubeApiHandle } from "../helpers/kube-api.ts";
import { runRunbook, workspace } from "../helpers/run-runbook.ts";
import { fixture } from "../helpers/fault-proxy.ts";

const { seeded, proxy } = useFailoverMoto(test);
const NS = "eventchain";
const APP = "eventchain-backend";

const endpointFailing = (r: { service: string; action: string }) =>
  r.service === "route53" && r.action.includes("/status")
    ? { status: 200, body: fixture("route53-get-health-check-status-failing.xml") }
    : undefined;

/** The runbooks reach the cluster through KUBECONFIG, as on an operator's machine. */
function useKubeconfig(t: ExecutionContext, file: string) {
  const before = process.env.KUBECONFIG;
  process.env.KUBECONFIG = file;
  t.teardown(() => {
    if (before === undefined) delete process.env.KUBECONFIG;
    else process.env.KUBECONFIG = before;
  });
}

/** The seeded stacks, prod running its backend on Kubernetes too (as Pulumi.prod.yaml declares). */
function outputsOnKubernetes(t: ExecutionContext) {
  const ws = workspace(t);
  const doc = structuredClone(seeded().file) as Record<string, any>;
  doc.prod.kubernetes = { ...doc.prod.kubernetes, enabled: true, namespace: NS, appDeployment: APP };
  const file = ws.writeOutputs(doc);
  return {
    ws,
    base: ["--outputs", file, "--stack", "prod", "--state-dir", ws.stateDir, "--primary-timeout-seconds", "2"],
  };
}

async function cluster(t: ExecutionContext, replicas = 3): Promise<KubeApiHandle> {
  const kube = await kubeApi(t);
  t.log(`Kubernetes API: ${kube.kind}`);
  await kube.create(NS, APP, replicas);
  useKubeconfig(t, kube.kubeconfig);
  return kube;
}

test.serial(
  "region-failover scales the named Deployment to 0 through the scale subresource, its count recorded on it",
  async (t) => {
    const kube = await cluster(t, 3);
    const { ws, base } = outputsOnKubernetes(t);
    const p = await proxy(t, endpointFailing);
    const res = await runRunbook(failover, [...base, "--yes", "--run-id", "fo1", "--health-attempts", "1"], {
      aws: awsFor(p.endpoint),
    });
    t.is(res.exitCode, EXIT.succeeded, res.stdout + res.stderr);
    t.like(await kube.deployment(NS, APP), {
      replicas: 0,
      annotations: { [KUBE_FENCE_ANNOTATION.replicas]: "3", [KUBE_FENCE_ANNOTATION.by]: "fo1" },
    });
    const fence = ws.journal("fo1").steps["fence-primary"]!.outputs as Record<string, any>;
    t.true(fence.fenced);
    t.like(fence.kubernetes[0], { namespace: NS, name: APP, ok: true, recordedReplicas: 3 });
    if (kube.kind !== "kube-apiserver")
      t.deepEqual(
        kube.requests.filter((r) => r.startsWith("PATCH")),
        [
          `PATCH /apis/apps/v1/namespaces/${NS}/deployments/${APP}`,
          `PATCH /apis/apps/v1/namespaces/${NS}/deployments/${APP}/scale`,
        ],
        "the record first, then the scale subresource",
      );
    t.regex(fence.database.sessions, /^rebooted: every session opened before the swap ended/);
  },
);

test.serial("a second fence keeps the count the first recorded", async (t) => {
  const kube = await cluster(t, 4);
  const { base } = outputsOnKubernetes(t);
  const p = await proxy(t, endpointFailing);
  t.is(
    (
      await runRunbook(failover, [...base, "--yes", "--run-id", "fo1", "--health-attempts", "1"], {
        aws: awsFor(p.endpoint),
      })
    ).exitCode,
    EXIT.succeeded,
  );
  const { runbook: fencePrimary } = await import("../../runbooks/fence-primary.ts");
  const again = await runRunbook(fencePrimary, [...base, "--yes", "--run-id", "fp2", "--force"], {
    aws: awsFor(p.endpoint),
  });
  t.not(again.exitCode, EXIT.failed, again.stdout);
  t.is((await kube.deployment(NS, APP))?.annotations[KUBE_FENCE_ANNOTATION.replicas], "4");
});

test.serial("failback puts the Deployment back to its recorded count and removes the record", async (t) => {
  const kube = await cluster(t, 3);
  const { ws, base } = outputsOnKubernetes(t);
  const p = await proxy(t, endpointFailing);
  t.is(
    (
      await runRunbook(failover, [...base, "--yes", "--run-id", "fo1", "--health-attempts", "1"], {
        aws: awsFor(p.endpoint),
      })
    ).exitCode,
    EXIT.succeeded,
  );
  p.setRule(() => undefined);
  const res = await runRunbook(
    failback,
    [...base, "--writes-stopped", "--yes", "--run-id", "fb1", "--health-attempts", "1"],
    { aws: awsFor(p.endpoint) },
  );
  t.is(res.exitCode, EXIT.succeeded, res.stdout + res.stderr);
  const d = await kube.deployment(NS, APP);
  t.is(d?.replicas, 3);
  t.false(KUBE_FENCE_ANNOTATION.replicas in (d?.annotations ?? {}));
  t.like((ws.journal("fb1").steps["restore-primary-kubernetes"]!.outputs as any).kubernetes[0], {
    ok: true,
    recordedReplicas: 3,
  });
});

test.serial("lift-fence puts the Deployment back to its recorded count", async (t) => {
  const kube = await cluster(t, 2);
  const { base } = outputsOnKubernetes(t);
  const p = await proxy(t, endpointFailing);
  t.is(
    (
      await runRunbook(failover, [...base, "--yes", "--run-id", "fo1", "--health-attempts", "1"], {
        aws: awsFor(p.endpoint),
      })
    ).exitCode,
    EXIT.succeeded,
  );
  p.setRule(() => undefined);
  const res = await runRunbook(liftFence, [...base, "--fence", "fo1", "--yes", "--force"], { aws: awsFor(p.endpoint) });
  t.is(res.exitCode, EXIT.succeeded, res.stdout + res.stderr);
  t.is((await kube.deployment(NS, APP))?.replicas, 2);
});

test.serial(
  "an unreachable Kubernetes API: a NOT FENCED line for the Deployment, the run's caveat, and nothing else changed",
  async (t) => {
    const kube = await cluster(t, 3);
    const { ws, base } = outputsOnKubernetes(t);
    // The runbook's kubeconfig points at a port nothing listens on.
    const badConfig = `${ws.dir}/kubeconfig-unreachable`;
    writeFileSync(
      badConfig,
      "apiVersion: v1\nkind: Config\nclusters:\n- name: x\n  cluster:\n    server: https://127.0.0.1:1\ncontexts:\n- name: x\n  context:\n    cluster: x\n    user: x\ncurrent-context: x\nusers:\n- name: x\n  user:\n    token: t\n",
      { mode: 0o600 },
    );
    useKubeconfig(t, badConfig);
    const p = await proxy(t, endpointFailing);
    const res = await runRunbook(failover, [...base, "--yes", "--run-id", "fo1", "--health-attempts", "1"], {
      aws: awsFor(p.endpoint),
    });
    // As documented for any part of the fence that does not answer: traffic is on DR, the run
    // succeeds with the caveat "primary not fenced" and its own exit code (runbooks/docs/region-failover.md).
    t.is(res.exitCode, EXIT.succeededWithCaveat, res.stdout + res.stderr);
    t.regex(res.stderr, new RegExp(`NOT FENCED: Kubernetes deployment ${NS}/${APP}: not reached: `));
    t.regex(res.report!.caveats![0]!, /^primary not fenced: /);
    const untouched = await kube.deployment(NS, APP);
    t.is(untouched?.replicas, 3, "the cluster is untouched");
    t.deepEqual(
      Object.keys(untouched?.annotations ?? {}).filter((k) => k.startsWith("eventchain.io/")),
      [],
    );
    const fence = ws.journal("fo1").steps["fence-primary"]!.outputs as Record<string, any>;
    t.deepEqual(
      fence.notFenced,
      [fence.notFenced.find((l: string) => l.startsWith("NOT FENCED: Kubernetes deployment"))],
      "only the Kubernetes part is not fenced",
    );
  },
);
