/**
 * Application recovery check for dr-test: copy the application's Deployment into a throwaway
 * namespace, wait until it is available, health-check a pod through the API server's proxy,
 * and delete the namespace whatever happened. Requests go through `kubectl … --raw`, so the
 * kubeconfig's auth applies and no manifest tooling (helm) is needed.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { $ } from "zx";

export interface KubeRaw {
  get(path: string): Promise<unknown>;
  create(path: string, body: unknown): Promise<unknown>;
  /** Deletes; resolves false when the object was already gone (404). */
  delete(path: string): Promise<boolean>;
}

export function kubectlRaw(opts: { kubeconfig?: string; context?: string } = {}): KubeRaw {
  const base = [
    ...(opts.kubeconfig ? ["--kubeconfig", opts.kubeconfig] : []),
    ...(opts.context ? ["--context", opts.context] : []),
  ];
  return {
    async get(path) {
      const r = await $({ quiet: true, nothrow: true })`kubectl ${base} get --raw ${path}`;
      if (r.exitCode !== 0) throw new Error(`GET ${path} failed: ${r.stderr.trim().split("\n").slice(-1)[0]}`);
      return r.stdout.trim().startsWith("{") ? JSON.parse(r.stdout) : r.stdout;
    },
    async create(path, body) {
      const dir = await mkdtemp(join(tmpdir(), "dr-test-"));
      try {
        const file = join(dir, "body.json");
        await writeFile(file, JSON.stringify(body), { mode: 0o600 });
        const r = await $({ quiet: true, nothrow: true })`kubectl ${base} create --raw ${path} -f ${file}`;
        if (r.exitCode !== 0) throw new Error(`POST ${path} failed: ${r.stderr.trim().split("\n").slice(-1)[0]}`);
        return JSON.parse(r.stdout);
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    },
    async delete(path) {
      const r = await $({ quiet: true, nothrow: true })`kubectl ${base} delete --raw ${path}`;
      if (r.exitCode === 0) return true;
      if (/NotFound|not found|404/.test(r.stderr)) return false;
      throw new Error(`DELETE ${path} failed: ${r.stderr.trim().split("\n").slice(-1)[0]}`);
    },
  };
}

interface Deployment {
  metadata: { name: string; labels?: Record<string, string> };
  spec: {
    selector: unknown;
    template: {
      metadata?: { labels?: Record<string, string> };
      spec: { containers: { name: string; ports?: { containerPort: number }[] }[] };
    };
  };
  status?: { availableReplicas?: number };
}

/** Pure: the throwaway copy of a Deployment (1 replica, same pod template, labelled as a DR test). */
export function throwawayCopy(source: Deployment, namespace: string, runId: string): Record<string, unknown> {
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: {
      name: source.metadata.name,
      namespace,
      labels: { ...(source.metadata.labels ?? {}), "eventchain.io/dr-test": runId },
    },
    spec: { replicas: 1, selector: source.spec.selector, template: source.spec.template },
  };
}

export interface AppCheckResult {
  namespace: string;
  available: boolean;
  health: { pod: string; status: string } | null;
  namespaceDeleted: boolean;
  problems: string[];
}

export async function checkApplication(p: {
  kube: KubeRaw;
  sourceNamespace: string;
  deployment: string;
  runId: string;
  healthPath?: string;
  /** Polls of the Deployment's status (exponential backoff, capped at 10 s). */
  attempts?: number;
  sleep?: (ms: number) => Promise<void>;
}): Promise<AppCheckResult> {
  const sleep = p.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms)));
  const ns = `dr-test-${p.runId
    .toLowerCase()
    .replace(/[^a-z0-9-]/g, "-")
    .slice(-40)
    .replace(/^-+/, "")}`;
  const result: AppCheckResult = {
    namespace: ns,
    available: false,
    health: null,
    namespaceDeleted: false,
    problems: [],
  };
  const source = (await p.kube.get(
    `/apis/apps/v1/namespaces/${p.sourceNamespace}/deployments/${p.deployment}`,
  )) as Deployment;
  await p.kube.create("/api/v1/namespaces", {
    apiVersion: "v1",
    kind: "Namespace",
    metadata: { name: ns, labels: { "eventchain.io/dr-test": p.runId } },
  });
  try {
    await p.kube.create(`/apis/apps/v1/namespaces/${ns}/deployments`, throwawayCopy(source, ns, p.runId));
    for (let i = 0; i < (p.attempts ?? 20); i++) {
      const d = (await p.kube.get(`/apis/apps/v1/namespaces/${ns}/deployments/${p.deployment}`)) as Deployment;
      if ((d.status?.availableReplicas ?? 0) >= 1) {
        result.available = true;
        break;
      }
      await sleep(Math.min(500 * 2 ** i, 10_000));
    }
    if (!result.available) result.problems.push(`deployment ${ns}/${p.deployment} did not become available`);
    else {
      const selector = Object.entries(source.spec.template.metadata?.labels ?? {})
        .map(([k, v]) => `${k}=${v}`)
        .join(",");
      const pods = (await p.kube.get(
        `/api/v1/namespaces/${ns}/pods?labelSelector=${encodeURIComponent(selector)}`,
      )) as { items: { metadata: { name: string } }[] };
      const pod = pods.items[0]?.metadata.name;
      const port = source.spec.template.spec.containers[0]?.ports?.[0]?.containerPort ?? 3001;
      if (!pod) result.problems.push(`no pod of ${ns}/${p.deployment} found`);
      else {
        try {
          const body = await p.kube.get(
            `/api/v1/namespaces/${ns}/pods/${pod}:${port}/proxy${p.healthPath ?? "/health"}`,
          );
          result.health = {
            pod,
            status: typeof body === "string" ? body.slice(0, 200) : JSON.stringify(body).slice(0, 200),
          };
        } catch (e) {
          result.problems.push(
            `health check of ${pod}:${port}${p.healthPath ?? "/health"} failed: ${(e as Error).message}`,
          );
        }
      }
    }
  } finally {
    // Leave nothing behind, whatever happened above.
    await p.kube.delete(`/api/v1/namespaces/${ns}`);
    const gone = await p.kube.get(`/api/v1/namespaces/${ns}`).then(
      (n) => (n as { status?: { phase?: string } }).status?.phase === "Terminating",
      () => true,
    );
    result.namespaceDeleted = gone;
    if (!gone) result.problems.push(`namespace ${ns} is still there after its deletion`);
  }
  return result;
}
