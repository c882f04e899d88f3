/**
 * Fencing every writer of the old primary once traffic is on DR: every primary ECS service to
 * desired count 0; every Kubernetes Deployment the primary stack names scaled to 0 through the
 * Kubernetes API (its count recorded on it first, for failback and lift-fence:
 * runbooks/platform/kube-fence.ts); the primary database's security groups set to the fence group
 * (declared by the prod stack, admits nothing), so no new connection reaches it; then the sessions
 * that were open before the swap — a security group does not cut established connections — are
 * ended by rebooting the instance (`rds:RebootDBInstance`, the primary region's RDS API, once the
 * instance is `available` again after the swap). Ending them as the master user
 * (`pg_terminate_backend`, which the master user may call on any session through `rds_superuser`)
 * would need a connection, and the fence admits none: the reboot is the mechanism that works
 * with the fence in place. The fence is recorded on the instance first (tags
 * `eventchain:fenced-by` = the run id, `eventchain:fenced-at`; contract/fence-record.ts): the prod
 * stack's program reads the record and keeps the fence, so a `pulumi up` cannot lift it. Each
 * call is bounded; nothing is deleted; the database keeps every write it took, for
 * reconciliation. Whatever could not be fenced is said one line each ("NOT FENCED: …").
 */
import { DescribeServicesCommand, ECSClient, UpdateServiceCommand } from "@aws-sdk/client-ecs";
import {
  AddTagsToResourceCommand,
  ModifyDBInstanceCommand,
  RDSClient,
  RebootDBInstanceCommand,
  type DBInstance,
} from "@aws-sdk/client-rds";
import { fenceStateOf, fenceTags, sameGroups, type LiveDatabase } from "../../contract/fence-record.ts";
import { describeInstance, waitInstanceAvailable } from "./rds.ts";
import { errorMessage } from "../lib/errors.ts";
import type { StackOutputs } from "../../contract/stack-outputs.ts";
import type { PlannedAction, RunContext, Step, StepRef } from "../lib/types.ts";
import { bounded, boundedOrThrow } from "./bounded.ts";
import {
  fenceWorkloads,
  KUBE_FENCE_ANNOTATION,
  kubeApi,
  kubeWorkloads,
  loadKubeConfig,
  notFencedLine,
  restoreWorkloads,
  type KubeScaleApi,
  type WorkloadResult,
} from "../platform/kube-fence.ts";

export const NOT_FENCED = "primary not fenced";
/** How long `isDone` looks before treating the primary as not (yet) fenced. */
const IS_DONE_MS = 2000;
/** How long the reboot waits for the instance to be `available` again after the security-group swap. */
export const SESSIONS_WAIT_MS = 10 * 60_000;

/** The Kubernetes API of the runner's kubeconfig (`KUBECONFIG`, `~/.kube/config`, or in-cluster), or why there is none. */
export function kubeFactory(): KubeScaleApi | string {
  const kc = loadKubeConfig();
  return typeof kc === "string" ? kc : kubeApi(kc);
}

export interface FenceResult {
  fenced: boolean;
  services: { name: string; result: string }[];
  database: {
    instance: string;
    result: string;
    previousSecurityGroups: string[] | null;
    /** The fence record on the instance (contract/fence-record.ts), or null when it could not be read or written. */
    fencedBy: string | null;
    /** How the sessions open before the swap were ended (the reboot), or why not. */
    sessions?: string;
  };
  /** Each Kubernetes Deployment the stack names: its recorded count and what was done. */
  kubernetes?: WorkloadResult[];
  /** One "NOT FENCED: <part>: <why>" line for each part that could not be fenced. */
  notFenced?: string[];
  /** What could not be fenced and why, one line each. */
  unreachable: string[];
  /** Set when not fenced: qualifies the run's verdict. */
  caveat?: string;
  [key: string]: unknown;
}

export function describeFence(prod: StackOutputs, boundSeconds: number): PlannedAction[] {
  return [
    ...prod.services.services.map((s) => ({
      kind: "aws" as const,
      action: `ecs:UpdateService (${prod.region}, bounded)`,
      detail: { cluster: prod.services.clusterName, service: s.name, desiredCount: 0, boundSeconds },
    })),
    {
      kind: "aws",
      action: `rds:AddTagsToResource (${prod.region}, bounded)`,
      detail: {
        ResourceName: prod.database.instanceArn ?? prod.database.instanceIdentifier,
        Tags: "eventchain:fenced-by = this run's id, eventchain:fenced-at = now (the record the prod stack keeps the fence by)",
        boundSeconds,
      },
    },
    {
      kind: "aws",
      action: `rds:ModifyDBInstance (${prod.region}, bounded)`,
      detail: {
        DBInstanceIdentifier: prod.database.instanceIdentifier,
        VpcSecurityGroupIds: prod.failover.fenceSecurityGroupIds,
        ApplyImmediately: true,
        boundSeconds,
      },
    },
    {
      kind: "aws",
      action: `rds:RebootDBInstance (${prod.region}, once available again): ends the sessions opened before the swap`,
      detail: { DBInstanceIdentifier: prod.database.instanceIdentifier, ForceFailover: false },
    },
    ...kubeWorkloads(prod).map((w) => ({
      kind: "http" as const,
      action: `PATCH /apis/apps/v1/namespaces/${w.namespace}/deployments/${w.name} (annotations: the replica count) then PATCH …/${w.name}/scale replicas 0 (bounded)`,
      detail: { namespace: w.namespace, deployment: w.name, boundSeconds },
    })),
  ];
}

/** The instance as contract/fence-record.ts reads it. */
export const liveOf = (id: string, i: DBInstance): LiveDatabase => ({
  identifier: id,
  tags: Object.fromEntries((i.TagList ?? []).map((t) => [t.Key ?? "", t.Value ?? ""])),
  securityGroupIds: (i.VpcSecurityGroups ?? []).map((g) => g.VpcSecurityGroupId ?? "").filter(Boolean),
});

/** Fences the primary described by `prod`; every call within `boundMs`; never throws for a region that does not answer. */
export async function fencePrimary(
  ctx: RunContext<unknown>,
  prod: StackOutputs,
  boundMs: number,
): Promise<FenceResult> {
  const ecs = ctx.aws(ECSClient, prod.region);
  const rds = ctx.aws(RDSClient, prod.region);
  const unreachable: string[] = [];
  const notFenced: string[] = [];
  const workloads = kubeWorkloads(prod);
  // Services, database and Kubernetes side by side: an unreachable region costs one bound, not three.
  const [services, database, kubernetes] = await Promise.all([
    Promise.all(
      prod.services.services.map(async (s) => {
        const r = await bounded(
          `ecs UpdateService ${s.name} desiredCount 0 (${prod.region})`,
          boundMs,
          (abortSignal) =>
            ecs.send(
              new UpdateServiceCommand({ cluster: prod.services.clusterName, service: s.name, desiredCount: 0 }),
              { abortSignal },
            ),
          ctx.signal,
        );
        if (!r.ok) {
          unreachable.push(r.error);
          notFenced.push(`NOT FENCED: ECS service ${s.name}: ${r.error}`);
        }
        return { name: s.name, result: r.ok ? "desired count 0" : `not stopped: ${r.error}` };
      }),
    ),
    fenceDatabase(ctx, rds, prod, boundMs)
      .then(async (db) => {
        const sessions = await endSessions(ctx, rds, prod, db, boundMs);
        if (!sessions.ok) {
          unreachable.push(sessions.detail);
          notFenced.push(`NOT FENCED: open sessions on ${db.instance}: ${sessions.detail}`);
        }
        const { endSessions: _done, ...result } = db;
        return { ...result, sessions: sessions.detail };
      })
      .catch((error: Error) => {
        unreachable.push(error.message);
        notFenced.push(`NOT FENCED: database ${prod.database.instanceIdentifier}: ${error.message}`);
        return {
          instance: prod.database.instanceIdentifier,
          result: `not fenced: ${error.message}`,
          previousSecurityGroups: null,
          fencedBy: null,
        };
      }),
    workloads.length
      ? fenceWorkloads(kubeFactory(), workloads, ctx.runId, new Date(), boundMs, ctx.signal)
      : Promise.resolve([] as WorkloadResult[]),
  ]);
  for (const w of kubernetes.filter((k) => !k.ok)) {
    unreachable.push(`${w.namespace}/${w.name}: ${w.result}`);
    notFenced.push(notFencedLine(w));
  }
  const fenced = unreachable.length === 0;
  return {
    fenced,
    services,
    database,
    kubernetes,
    notFenced,
    unreachable,
    ...(fenced
      ? {}
      : {
          caveat:
            `${NOT_FENCED}: ${unreachable.length} call(s) to ${prod.region} did not succeed; run npx zx ` +
            `runbooks/fence-primary.ts --stack ${prod.stack} as soon as ${prod.region} answers (failback fences ` +
            `first too)`,
        }),
  };
}

async function fenceDatabase(ctx: RunContext<unknown>, rds: RDSClient, prod: StackOutputs, boundMs: number) {
  const id = prod.database.instanceIdentifier;
  const fence = prod.failover.fenceSecurityGroupIds;
  if (fence.length === 0)
    throw new Error(
      `no fence security group in the ${prod.stack} outputs (failover.fenceSecurityGroupIds): deploy ${prod.stack} with this version; ${id} still accepts connections`,
    );
  const current = await boundedOrThrow(
    `rds DescribeDBInstances ${id} (${prod.region})`,
    boundMs,
    (abortSignal) => describeInstance(rds, id, abortSignal),
    ctx.signal,
  );
  if (!current) throw new Error(`${id} does not exist in ${prod.region}: nothing to fence there`);
  const live = liveOf(id, current);
  const groups = live.securityGroupIds;
  const state = fenceStateOf(live, fence);
  // The record first: were the next call lost, the prod stack still keeps the fence (and an up finishes it).
  let fencedBy: string;
  if (state.fenced && state.recorded) fencedBy = state.by;
  else {
    fencedBy = ctx.runId;
    const record = fenceTags(ctx.runId, new Date());
    await boundedOrThrow(
      `rds AddTagsToResource ${id} ${Object.keys(record).join(",")} (${prod.region})`,
      boundMs,
      (abortSignal) =>
        rds.send(
          new AddTagsToResourceCommand({
            ResourceName: current.DBInstanceArn ?? id,
            Tags: Object.entries(record).map(([Key, Value]) => ({ Key, Value })),
          }),
          { abortSignal },
        ),
      ctx.signal,
    );
  }
  if (sameGroups(groups, fence))
    return {
      instance: id,
      result: state.fenced && state.recorded ? "already fenced" : `already on the fence; fence recorded (${fencedBy})`,
      previousSecurityGroups: null,
      fencedBy,
      // Fenced by this run (a resumed one): its reboot may not have happened yet.
      endSessions: fencedBy === ctx.runId,
    };
  await boundedOrThrow(
    `rds ModifyDBInstance ${id} VpcSecurityGroupIds ${fence.join(",")} (${prod.region})`,
    boundMs,
    (abortSignal) =>
      rds.send(
        new ModifyDBInstanceCommand({ DBInstanceIdentifier: id, VpcSecurityGroupIds: fence, ApplyImmediately: true }),
        { abortSignal },
      ),
    ctx.signal,
  );
  return {
    instance: id,
    result: `security groups set to the fence ${fence.join(", ")}: no new connections (fence recorded: ${fencedBy})`,
    previousSecurityGroups: groups,
    fencedBy,
    endSessions: true,
  };
}

/**
 * Ends the sessions opened before the swap: waits (bounded) until the instance is `available`
 * again after the modification, then reboots it (`RebootDBInstance`, no failover). Only for an
 * instance this run fenced; one fenced earlier had its sessions ended by that run.
 */
async function endSessions(
  ctx: RunContext<unknown>,
  rds: RDSClient,
  prod: StackOutputs,
  db: { instance: string; endSessions: boolean },
  boundMs: number,
): Promise<{ ok: boolean; detail: string }> {
  if (!db.endSessions) return { ok: true, detail: "fenced by an earlier run, which ended its sessions" };
  const id = db.instance;
  const now = await bounded(
    `rds DescribeDBInstances ${id} (${prod.region})`,
    boundMs,
    (abortSignal) => describeInstance(rds, id, abortSignal),
    ctx.signal,
  );
  if (!now.ok) return { ok: false, detail: `not rebooted: ${now.error}` };
  if (now.value?.DBInstanceStatus === "rebooting") return { ok: true, detail: "rebooting (sessions being ended)" };
  // The security-group change leaves the instance `modifying` for a moment; RDS reboots only an available one.
  try {
    await waitInstanceAvailable(rds, id, SESSIONS_WAIT_MS / 60_000, ctx.signal);
  } catch (error) {
    return {
      ok: false,
      detail: `not rebooted: ${id} not available again within ${SESSIONS_WAIT_MS / 60_000} min (${errorMessage(error)}); reboot it once available (aws rds reboot-db-instance --db-instance-identifier ${id} --region ${prod.region})`,
    };
  }
  const r = await bounded(
    `rds RebootDBInstance ${id} (${prod.region})`,
    boundMs,
    (abortSignal) =>
      rds.send(new RebootDBInstanceCommand({ DBInstanceIdentifier: id, ForceFailover: false }), { abortSignal }),
    ctx.signal,
  );
  return r.ok
    ? { ok: true, detail: `rebooted: every session opened before the swap ended; the fence admits no new one` }
    : { ok: false, detail: `not rebooted: ${r.error}` };
}

/**
 * Whether the primary is fenced already, and recorded (bounded reads; false when it does not
 * answer): services at 0, the database on the fence group with its fence record.
 */
export async function isFenced(
  ctx: RunContext<unknown>,
  prod: StackOutputs,
  boundMs: number,
): Promise<false | { fencedBy: string }> {
  const [svc, db] = await Promise.all([
    bounded(
      `ecs DescribeServices (${prod.region})`,
      boundMs,
      async (abortSignal) =>
        (
          await ctx.aws(ECSClient, prod.region).send(
            new DescribeServicesCommand({
              cluster: prod.services.clusterName,
              services: prod.services.services.map((s) => s.name),
            }),
            { abortSignal },
          )
        ).services ?? [],
      ctx.signal,
    ),
    bounded(
      `rds DescribeDBInstances (${prod.region})`,
      boundMs,
      (abortSignal) => describeInstance(ctx.aws(RDSClient, prod.region), prod.database.instanceIdentifier, abortSignal),
      ctx.signal,
    ),
  ]);
  if (!svc.ok || !db.ok || !db.value || prod.failover.fenceSecurityGroupIds.length === 0) return false;
  const workloads = kubeWorkloads(prod);
  if (workloads.length) {
    const api = kubeFactory();
    if (typeof api === "string") return false;
    const reads = await Promise.all(
      workloads.map((w) => bounded(`GET ${w.namespace}/${w.name}`, boundMs, () => api.read(w), ctx.signal)),
    );
    if (!reads.every((r) => r.ok && r.value.replicas === 0)) return false;
  }
  const live = liveOf(prod.database.instanceIdentifier, db.value);
  const state = fenceStateOf(live, prod.failover.fenceSecurityGroupIds);
  if (
    !(state.fenced && state.recorded) ||
    // Fenced by this very run: a resume must finish its work (the reboot), not skip it.
    state.by === ctx.runId ||
    !sameGroups(live.securityGroupIds, prod.failover.fenceSecurityGroupIds) ||
    svc.value.length !== prod.services.services.length ||
    !svc.value.every((s) => (s.desiredCount ?? 0) === 0)
  )
    return false;
  return { fencedBy: state.by };
}

/**
 * The fence as a step. `required`: fail the step when the primary cannot be fenced (failback,
 * fence-primary); otherwise report "primary not fenced" and let the run go on (region-failover,
 * after traffic is on DR).
 */
export function fencePrimaryStep<O>(p: {
  id: string;
  title: string;
  dependsOn: readonly StepRef<any>[];
  required: boolean;
  boundSeconds: (ctx: RunContext<O>) => number;
}): Step<O, FenceResult> {
  return {
    id: p.id,
    title: p.title,
    destructive: true,
    dependsOn: p.dependsOn,
    describe: (ctx) => describeFence(ctx.outputs, p.boundSeconds(ctx)),
    async isDone(ctx) {
      // A quick look only (a healthy primary answers in milliseconds): an unreachable one should
      // not cost a full bound twice, here and in run.
      const done = await isFenced(ctx, ctx.outputs, Math.min(p.boundSeconds(ctx) * 1000, IS_DONE_MS));
      return done
        ? {
            fenced: true,
            services: ctx.outputs.services.services.map((s) => ({ name: s.name, result: "desired count 0" })),
            database: {
              instance: ctx.outputs.database.instanceIdentifier,
              result: "already fenced",
              previousSecurityGroups: null,
              fencedBy: done.fencedBy,
            },
            unreachable: [],
          }
        : false;
    },
    async run(ctx) {
      const r = await fencePrimary(ctx, ctx.outputs, p.boundSeconds(ctx) * 1000);
      for (const line of r.notFenced ?? []) ctx.log.warn(line);
      if (!r.fenced) {
        if (p.required)
          throw new Error(
            `${NOT_FENCED}: ${r.unreachable.join("; ")}. Nothing after this step ran; resume when ${ctx.outputs.region} answers`,
          );
        ctx.log.warn(`${NOT_FENCED}: ${r.unreachable.join("; ")}`);
      }
      return r;
    },
  };
}

/**
 * Puts the Kubernetes Deployments the fence scaled to 0 back to the counts it recorded on them
 * (failback, once the application points at the new primary; lift-fence), then removes the
 * record. A Deployment without a record is left as it is. Fails, naming each one, when a
 * Deployment could not be restored; a resume retries it.
 */
export function restoreKubernetesStep<O>(p: {
  id: string;
  title: string;
  dependsOn: readonly StepRef<any>[];
  boundSeconds: (ctx: RunContext<O>) => number;
}): Step<O, { kubernetes: WorkloadResult[] }> {
  return {
    id: p.id,
    title: p.title,
    dependsOn: p.dependsOn,
    describe: (ctx) =>
      kubeWorkloads(ctx.outputs).length
        ? kubeWorkloads(ctx.outputs).map((w) => ({
            kind: "http" as const,
            action: `PATCH /apis/apps/v1/namespaces/${w.namespace}/deployments/${w.name}/scale replicas = the count in ${KUBE_FENCE_ANNOTATION.replicas}, then remove the record (bounded)`,
            detail: { namespace: w.namespace, deployment: w.name },
          }))
        : [
            {
              kind: "note" as const,
              action: `stack ${ctx.outputs.stack} runs no Kubernetes application: nothing to restore`,
            },
          ],
    async run(ctx) {
      const workloads = kubeWorkloads(ctx.outputs);
      const kubernetes = workloads.length
        ? await restoreWorkloads(kubeFactory(), workloads, p.boundSeconds(ctx) * 1000, ctx.signal)
        : [];
      const failed = kubernetes.filter((k) => !k.ok);
      if (failed.length)
        throw new Error(
          `NOT RESTORED: ${failed.map((w) => `Kubernetes deployment ${w.namespace}/${w.name}: ${w.result}`).join("; ")}. Resume when the cluster answers, or scale by hand to the count in its ${KUBE_FENCE_ANNOTATION.replicas} annotation`,
        );
      for (const k of kubernetes) ctx.log.info(`Kubernetes deployment ${k.namespace}/${k.name}: ${k.result}`);
      return { kubernetes };
    },
  };
}
