/**
 * The Kubernetes part of fencing the old primary: every Deployment of the primary stack that
 * writes to its database (`kubernetes.appDeployment` in its outputs) is scaled to 0 through the
 * Kubernetes API's `scale` subresource (`PATCH /apis/apps/v1/namespaces/{ns}/deployments/{name}/scale`),
 * after its replica count is recorded on the Deployment itself (annotations
 * `eventchain.io/fenced-replicas`, `-by`, `-at`), so failback and lift-fence can put it back
 * whichever machine runs them. A count recorded by an earlier fence is kept (a second fence
 * never records 0). Every call is bounded; a cluster that does not answer is reported, never
 * thrown, and nothing else is changed there.
 *
 * The cluster is the one the runner's kubeconfig names: `KUBECONFIG` (or `~/.kube/config`) and its
 * current context, or the pod's service account when running inside the cluster.
 */
import { existsSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { AppsV1Api, KubeConfig, PatchStrategy, setHeaderOptions } from "@kubernetes/client-node";
import type { StackOutputs } from "../../contract/stack-outputs.ts";
import { bounded } from "../aws/bounded.ts";

/** Annotations of the Kubernetes fence record (on the Deployment). */
export const KUBE_FENCE_ANNOTATION = {
  /** The replica count before the fence: what failback and lift-fence scale back to. */
  replicas: "eventchain.io/fenced-replicas",
  /** The run that fenced it. */
  by: "eventchain.io/fenced-by",
  /** When (ISO 8601). */
  at: "eventchain.io/fenced-at",
} as const;

/** A Deployment the fence scales to 0. */
export interface Workload {
  namespace: string;
  name: string;
}

/** What happened to one workload. */
export interface WorkloadResult extends Workload {
  ok: boolean;
  /** Replicas before this run touched it (the recorded count when it was fenced already). */
  recordedReplicas: number | null;
  result: string;
}

/** The Deployments the fence acts on: the application Deployment the primary stack names. */
export function kubeWorkloads(outputs: StackOutputs): Workload[] {
  const k = outputs.kubernetes;
  return k.enabled && k.namespace && k.appDeployment ? [{ namespace: k.namespace, name: k.appDeployment }] : [];
}

/** The calls the fence makes; `kubeApi` is the real one. */
export interface KubeScaleApi {
  /** Where the calls go, for messages (`https://…` and the context). */
  readonly where: string;
  /** The Deployment's annotations and its scale's replica count. */
  read(w: Workload): Promise<{ annotations: Record<string, string>; replicas: number }>;
  /** Merge-patches the Deployment's annotations (null removes one). */
  annotate(w: Workload, annotations: Record<string, string | null>): Promise<void>;
  /** Merge-patches the scale subresource. */
  scale(w: Workload, replicas: number): Promise<void>;
}

/** Why no cluster can be reached, or the loaded config. */
export function loadKubeConfig(env: NodeJS.ProcessEnv = process.env): KubeConfig | string {
  const kc = new KubeConfig();
  const file = env.KUBECONFIG || join(homedir(), ".kube", "config");
  if (env.KUBECONFIG || existsSync(file)) {
    try {
      kc.loadFromDefault();
    } catch (error) {
      return `kubeconfig ${file} cannot be read: ${(error as Error).message}`;
    }
  } else if (env.KUBERNETES_SERVICE_HOST) kc.loadFromCluster();
  else return "no kubeconfig (KUBECONFIG or ~/.kube/config) and not inside a cluster";
  if (!kc.getCurrentCluster()) return `kubeconfig ${file} has no current context naming a cluster`;
  return kc;
}

const merge = setHeaderOptions("Content-Type", PatchStrategy.MergePatch);

/** The fence's calls through the official client (`@kubernetes/client-node`). */
export function kubeApi(kc: KubeConfig): KubeScaleApi {
  const apps = kc.makeApiClient(AppsV1Api);
  return {
    where: `${kc.getCurrentCluster()?.server ?? "?"} (context ${kc.getCurrentContext() || "in-cluster"})`,
    async read(w) {
      const [deployment, scale] = await Promise.all([
        apps.readNamespacedDeployment({ name: w.name, namespace: w.namespace }),
        apps.readNamespacedDeploymentScale({ name: w.name, namespace: w.namespace }),
      ]);
      return { annotations: deployment.metadata?.annotations ?? {}, replicas: scale.spec?.replicas ?? 0 };
    },
    async annotate(w, annotations) {
      await apps.patchNamespacedDeployment(
        { name: w.name, namespace: w.namespace, body: { metadata: { annotations } } },
        merge,
      );
    },
    async scale(w, replicas) {
      await apps.patchNamespacedDeploymentScale(
        { name: w.name, namespace: w.namespace, body: { spec: { replicas } } },
        merge,
      );
    },
  };
}

/** An error of the client in one line: the API's own Status message when it sent one. */
export function kubeError(error: unknown): string {
  const e = error as { code?: number; body?: unknown; message?: string };
  if (typeof e.code === "number" && e.body !== undefined) {
    let message = typeof e.body === "string" ? e.body : JSON.stringify(e.body);
    try {
      message = (JSON.parse(message) as { message?: string }).message ?? message;
    } catch {
      // not JSON: the body as sent
    }
    return `HTTP ${e.code}: ${message.slice(0, 300)}`;
  }
  return (e.message ?? String(error)).split("\n")[0]!.slice(0, 300);
}

const label = (w: Workload) => `Kubernetes deployment ${w.namespace}/${w.name}`;

/**
 * Records each workload's replica count on it, then scales it to 0 (each call within `boundMs`).
 * Never throws: a workload that could not be fenced has `ok: false` and says why.
 */
export async function fenceWorkloads(
  api: KubeScaleApi | string,
  workloads: Workload[],
  runId: string,
  at: Date,
  boundMs: number,
  signal?: AbortSignal,
): Promise<WorkloadResult[]> {
  return Promise.all(
    workloads.map(async (w): Promise<WorkloadResult> => {
      if (typeof api === "string") return { ...w, ok: false, recordedReplicas: null, result: `not reached: ${api}` };
      const call = <T>(what: string, fn: () => Promise<T>) =>
        bounded(
          `${what} ${label(w)} (${api.where})`,
          boundMs,
          () => fn().catch((e) => Promise.reject(new Error(kubeError(e)))),
          signal,
        );
      const now = await call("GET", () => api.read(w));
      if (!now.ok) return { ...w, ok: false, recordedReplicas: null, result: `not reached: ${now.error}` };
      const recorded = now.value.annotations[KUBE_FENCE_ANNOTATION.replicas];
      const replicas = recorded !== undefined ? Number(recorded) : now.value.replicas;
      if (recorded === undefined) {
        // The record first: were the scale lost, failback still knows the count.
        const a = await call("PATCH (annotations)", () =>
          api.annotate(w, {
            [KUBE_FENCE_ANNOTATION.replicas]: String(now.value.replicas),
            [KUBE_FENCE_ANNOTATION.by]: runId,
            [KUBE_FENCE_ANNOTATION.at]: at.toISOString(),
          }),
        );
        if (!a.ok)
          return { ...w, ok: false, recordedReplicas: null, result: `count not recorded, not scaled: ${a.error}` };
      }
      if (now.value.replicas === 0)
        return { ...w, ok: true, recordedReplicas: replicas, result: `already at 0 replicas (recorded ${replicas})` };
      const s = await call("PATCH scale", () => api.scale(w, 0));
      if (!s.ok)
        return {
          ...w,
          ok: false,
          recordedReplicas: replicas,
          result: `count recorded (${replicas}), not scaled: ${s.error}`,
        };
      return {
        ...w,
        ok: true,
        recordedReplicas: replicas,
        result: `scaled ${now.value.replicas} → 0 (count recorded)`,
      };
    }),
  );
}

/**
 * Scales each fenced workload back to its recorded count, then removes the record. A workload
 * without a record is left as it is (reported). Throws when one could not be restored, naming it.
 */
export async function restoreWorkloads(
  api: KubeScaleApi | string,
  workloads: Workload[],
  boundMs: number,
  signal?: AbortSignal,
): Promise<WorkloadResult[]> {
  const results = await Promise.all(
    workloads.map(async (w): Promise<WorkloadResult> => {
      if (typeof api === "string") return { ...w, ok: false, recordedReplicas: null, result: `not reached: ${api}` };
      const call = <T>(what: string, fn: () => Promise<T>) =>
        bounded(
          `${what} ${label(w)} (${api.where})`,
          boundMs,
          () => fn().catch((e) => Promise.reject(new Error(kubeError(e)))),
          signal,
        );
      const now = await call("GET", () => api.read(w));
      if (!now.ok) return { ...w, ok: false, recordedReplicas: null, result: `not reached: ${now.error}` };
      const recorded = now.value.annotations[KUBE_FENCE_ANNOTATION.replicas];
      if (recorded === undefined)
        return {
          ...w,
          ok: true,
          recordedReplicas: null,
          result: `no fence record: left at ${now.value.replicas} replicas`,
        };
      const replicas = Number(recorded);
      if (!Number.isInteger(replicas) || replicas < 0)
        return {
          ...w,
          ok: false,
          recordedReplicas: null,
          result: `recorded count "${recorded}" is not a replica count: scale it by hand`,
        };
      if (now.value.replicas !== replicas) {
        const s = await call("PATCH scale", () => api.scale(w, replicas));
        if (!s.ok)
          return { ...w, ok: false, recordedReplicas: replicas, result: `not scaled back to ${replicas}: ${s.error}` };
      }
      const a = await call("PATCH (annotations)", () =>
        api.annotate(w, Object.fromEntries(Object.values(KUBE_FENCE_ANNOTATION).map((k) => [k, null]))),
      );
      if (!a.ok)
        return {
          ...w,
          ok: false,
          recordedReplicas: replicas,
          result: `scaled back to ${replicas}, record not removed: ${a.error}`,
        };
      return { ...w, ok: true, recordedReplicas: replicas, result: `scaled back to ${replicas} (record removed)` };
    }),
  );
  return results;
}

/** The "NOT FENCED" line of a workload that could not be fenced. */
export const notFencedLine = (r: WorkloadResult) => `NOT FENCED: ${label(r)}: ${r.result}`;
