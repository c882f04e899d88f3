/**
 * Application recovery check for dr-test: copy the application's Deployment into a throwaway
 * namespace — pointed at the restored database, never the production one, with production-only
 * environment, secrets and the production service account stripped — wait until it is
 * available, health-check a pod through the API server's proxy, and delete the namespace it
 * created (only that one: it carries the run's label) whatever happened. Requests go through
 * `kubectl … --raw`, so the kubeconfig's auth applies and no manifest tooling (helm) is needed.
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

interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { secretKeyRef?: unknown; configMapKeyRef?: unknown; fieldRef?: unknown; resourceFieldRef?: unknown };
}
interface Container {
  name: string;
  ports?: { containerPort: number }[];
  env?: EnvVar[];
  envFrom?: { secretRef?: unknown; configMapRef?: unknown; prefix?: string }[];
  volumeMounts?: { name: string; mountPath: string }[];
  [key: string]: unknown;
}
interface Volume {
  name: string;
  secret?: unknown;
  projected?: { sources?: { secret?: unknown; serviceAccountToken?: unknown }[] };
  [key: string]: unknown;
}
interface PodSpec {
  containers: Container[];
  initContainers?: Container[];
  volumes?: Volume[];
  serviceAccountName?: string;
  serviceAccount?: string;
  automountServiceAccountToken?: boolean;
  [key: string]: unknown;
}
interface Deployment {
  metadata: { name: string; labels?: Record<string, string> };
  spec: {
    selector: unknown;
    template: { metadata?: { labels?: Record<string, string> }; spec: PodSpec };
  };
  status?: { availableReplicas?: number };
}

/** The database the throwaway copy uses: a restored one. */
export interface RestoredDatabase {
  host: string;
  port: number;
  name: string;
}

/** Environment variables the application reads its database from (as database-recovery sets them). */
export const DATABASE_ENV = { host: "DATABASE_HOST", port: "DATABASE_PORT", name: "DATABASE_NAME" } as const;

export interface CopyOptions {
  /** The restored database the copy must use. */
  database: RestoredDatabase;
  /** The production database host (the stack's): nothing in the copy may name it, nor the source's DATABASE_HOST. */
  productionHost: string | null;
  /** Further environment variable names that only production may have (payment keys, webhooks…). */
  stripEnv?: string[];
}

/** What was taken out of the copy, by name (for the report; never values). */
export interface Stripped {
  env: string[];
  envFrom: string[];
  volumes: string[];
  serviceAccount: string | null;
}

const isSecretVolume = (v: Volume) =>
  v.secret !== undefined || (v.projected?.sources ?? []).some((s) => s.secret !== undefined || s.serviceAccountToken);

/**
 * Pure: the throwaway copy of a Deployment: one replica, the same images, labelled as a DR
 * test; every container's database variables set to the restored database; any variable that
 * names the production host, comes from a Secret, or is listed as production-only removed; Secret
 * sources and volumes removed; the default service account without a token instead of the
 * application's (which may carry production permissions).
 */
export function throwawayCopy(
  source: Deployment,
  namespace: string,
  runId: string,
  o: CopyOptions,
): { manifest: Record<string, unknown>; stripped: Stripped } {
  const prodHosts = productionHostsOf(source, o.productionHost);
  const strip = new Set(o.stripEnv ?? []);
  const db = new Set<string>(Object.values(DATABASE_ENV));
  const stripped: Stripped = { env: [], envFrom: [], volumes: [], serviceAccount: null };
  const template = structuredClone(source.spec.template);
  const spec = template.spec;
  const secretVolumes = new Set((spec.volumes ?? []).filter(isSecretVolume).map((v) => v.name));
  const fix = (c: Container): Container => {
    const env = (c.env ?? []).filter((e) => {
      const drop =
        db.has(e.name) ||
        strip.has(e.name) ||
        e.valueFrom?.secretKeyRef !== undefined ||
        (typeof e.value === "string" && prodHosts.some((h) => e.value!.toLowerCase().includes(h)));
      if (drop && !db.has(e.name)) stripped.env.push(`${c.name}/${e.name}`);
      return !drop;
    });
    env.push(
      { name: DATABASE_ENV.host, value: o.database.host },
      { name: DATABASE_ENV.port, value: String(o.database.port) },
      { name: DATABASE_ENV.name, value: o.database.name },
    );
    const envFrom = (c.envFrom ?? []).filter((f, i) => {
      if (f.secretRef === undefined) return true;
      stripped.envFrom.push(`${c.name}/envFrom[${i}] (Secret)`);
      return false;
    });
    const volumeMounts = (c.volumeMounts ?? []).filter((m) => !secretVolumes.has(m.name));
    return { ...c, env, ...(c.envFrom ? { envFrom } : {}), ...(c.volumeMounts ? { volumeMounts } : {}) };
  };
  spec.containers = spec.containers.map(fix);
  if (spec.initContainers) spec.initContainers = spec.initContainers.map(fix);
  if (spec.volumes) {
    stripped.volumes = [...secretVolumes];
    spec.volumes = spec.volumes.filter((v) => !secretVolumes.has(v.name));
  }
  const account = spec.serviceAccountName ?? spec.serviceAccount;
  if (account && account !== "default") stripped.serviceAccount = account;
  delete spec.serviceAccount;
  spec.serviceAccountName = "default";
  spec.automountServiceAccountToken = false;
  return {
    manifest: {
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: {
        name: source.metadata.name,
        namespace,
        labels: { ...(source.metadata.labels ?? {}), "eventchain.io/dr-test": runId },
      },
      spec: { replicas: 1, selector: source.spec.selector, template },
    },
    stripped,
  };
}

/** Pure: the names the production host goes by in a pod template (for the refusal check). */
export function productionHostsOf(source: Deployment, productionHost: string | null): string[] {
  const hosts = new Set<string>();
  if (productionHost) hosts.add(productionHost.toLowerCase());
  for (const c of [...source.spec.template.spec.containers, ...(source.spec.template.spec.initContainers ?? [])])
    for (const e of c.env ?? []) if (e.name === DATABASE_ENV.host && e.value) hosts.add(e.value.toLowerCase());
  return [...hosts];
}

export interface AppCheckResult {
  namespace: string;
  available: boolean;
  health: { pod: string; status: string } | null;
  namespaceDeleted: boolean;
  /** The database the copy was pointed at, and what was stripped from it. */
  database: RestoredDatabase;
  stripped: Stripped;
  problems: string[];
}

// Long on purpose: create, wait, check and delete the throwaway namespace in order, with the delete in finally.
export async function checkApplication(p: {
  kube: KubeRaw;
  sourceNamespace: string;
  deployment: string;
  runId: string;
  /** The application's health check path (dr-test's `--health-path`). */
  healthPath: string;
  /** The restored database the copy uses, the production host it must never use, production-only variables. */
  copy: CopyOptions;
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
  const source = (await p.kube.get(
    `/apis/apps/v1/namespaces/${p.sourceNamespace}/deployments/${p.deployment}`,
  )) as Deployment;
  const production = productionHostsOf(source, p.copy.productionHost);
  if (production.includes(p.copy.database.host.toLowerCase()))
    throw new Error(
      `refusing to point the throwaway copy at ${p.copy.database.host}: that is the production database the application uses; expected the host of a restored database`,
    );
  const { manifest, stripped } = throwawayCopy(source, ns, p.runId, p.copy);
  const leaked = JSON.stringify(manifest).toLowerCase();
  const named = production.find((h) => leaked.includes(h));
  if (named)
    throw new Error(
      `refusing to deploy: the throwaway copy still names the production database ${named} (in a field other than the environment); nothing was created`,
    );
  const result: AppCheckResult = {
    namespace: ns,
    available: false,
    health: null,
    namespaceDeleted: false,
    database: p.copy.database,
    stripped,
    problems: [],
  };
  // Created here, so deleted below; a namespace that exists already makes this fail (409) and nothing is deleted.
  await p.kube.create("/api/v1/namespaces", {
    apiVersion: "v1",
    kind: "Namespace",
    metadata: { name: ns, labels: { "eventchain.io/dr-test": p.runId } },
  });
  try {
    await p.kube.create(`/apis/apps/v1/namespaces/${ns}/deployments`, manifest);
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
          const body = await p.kube.get(`/api/v1/namespaces/${ns}/pods/${pod}:${port}/proxy${p.healthPath}`);
          result.health = {
            pod,
            status: typeof body === "string" ? body.slice(0, 200) : JSON.stringify(body).slice(0, 200),
          };
        } catch (e) {
          result.problems.push(`health check of ${pod}:${port}${p.healthPath} failed: ${(e as Error).message}`);
        }
      }
    }
  } finally {
    // Leave nothing behind, whatever happened above; delete only the namespace this run labelled.
    const ours = await p.kube.get(`/api/v1/namespaces/${ns}`).then(
      (n) =>
        (n as { metadata?: { labels?: Record<string, string> } }).metadata?.labels?.["eventchain.io/dr-test"] ===
        p.runId,
      () => false,
    );
    if (!ours) result.problems.push(`namespace ${ns} does not carry this run's label: left alone`);
    else {
      await p.kube.delete(`/api/v1/namespaces/${ns}`);
      const gone = await p.kube.get(`/api/v1/namespaces/${ns}`).then(
        (n) => (n as { status?: { phase?: string } }).status?.phase === "Terminating",
        () => true,
      );
      result.namespaceDeleted = gone;
      if (!gone) result.problems.push(`namespace ${ns} is still there after its deletion`);
    }
  }
  return result;
}
