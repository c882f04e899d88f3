/**
 * A Kubernetes API for the fence's calls, on loopback: a real `kube-apiserver` + `etcd` when both
 * binaries are there (`KUBE_APISERVER_BIN`, `ETCD_BIN`, or `.tools/kube/bin/`), otherwise a
 * stand-in that answers `GET`/`PATCH` of `apps/v1` Deployments and their `scale` subresource with
 * responses in the shape of the Kubernetes API reference (Deployment, autoscaling/v1 Scale,
 * Status on errors; merge patches only, 415 for any other patch type, as the API server does).
 * Either way the test gets a kubeconfig file and `deployment(ns, name)` to read what the API holds.
 */
import { spawn, execFileSync, type ChildProcess } from "node:child_process";
import { createServer } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ExecutionContext } from "ava";

export interface KubeApiHandle {
  /** "kube-apiserver" (real) or "recorded-shape stand-in". */
  kind: string;
  kubeconfig: string;
  /** Requests as `METHOD path` (the stand-in only; the real server's are not seen). */
  requests: string[];
  /** Creates a Deployment with `replicas`. */
  create(namespace: string, name: string, replicas: number): Promise<void>;
  /** The Deployment as the API holds it: spec.replicas and annotations. */
  deployment(
    namespace: string,
    name: string,
  ): Promise<{ replicas: number; annotations: Record<string, string> } | undefined>;
}

const kubeconfigFor = (dir: string, server: string, token: string, ca?: string) => {
  const file = join(dir, "kubeconfig");
  writeFileSync(
    file,
    [
      "apiVersion: v1",
      "kind: Config",
      "clusters:",
      "- name: test",
      "  cluster:",
      `    server: ${server}`,
      ...(ca ? [`    certificate-authority: ${ca}`] : []),
      "contexts:",
      "- name: test",
      "  context:",
      "    cluster: test",
      "    user: test",
      "current-context: test",
      "users:",
      "- name: test",
      "  user:",
      `    token: ${token}`,
      "",
    ].join("\n"),
    { mode: 0o600 },
  );
  return file;
};

const status = (code: number, reason: string, message: string) => ({
  kind: "Status",
  apiVersion: "v1",
  metadata: {},
  status: "Failure",
  message,
  reason,
  code,
});

/** A self-signed serving certificate for 127.0.0.1 (the official client speaks HTTPS only). */
function selfSigned(dir: string): { key: Buffer; cert: Buffer; ca: string } {
  execFileSync(
    "openssl",
    [
      "req",
      "-x509",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-days",
      "1",
      "-subj",
      "/CN=kubernetes",
      "-addext",
      "subjectAltName=IP:127.0.0.1",
      "-keyout",
      join(dir, "tls.key"),
      "-out",
      join(dir, "ca.crt"),
    ],
    { stdio: "ignore" },
  );
  return { key: readFileSync(join(dir, "tls.key")), cert: readFileSync(join(dir, "ca.crt")), ca: join(dir, "ca.crt") };
}

/** The stand-in: Deployments and their scale subresource, shaped like the API reference, over HTTPS. */
async function standIn(t: ExecutionContext): Promise<KubeApiHandle> {
  const store = new Map<string, { replicas: number; annotations: Record<string, string>; rv: number }>();
  const requests: string[] = [];
  const dir = mkdtempSync(join(tmpdir(), "kube-api-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const tls = selfSigned(dir);
  const server = createHttpsServer({ key: tls.key, cert: tls.cert }, (req, res) => {
    let body = "";
    req.on("data", (c: Buffer) => (body += c.toString()));
    req.on("end", () => {
      const path = new URL(req.url ?? "/", "http://x").pathname;
      requests.push(`${req.method} ${path}`);
      const send = (code: number, b: unknown) => {
        res.writeHead(code, { "content-type": "application/json" });
        res.end(JSON.stringify(b));
      };
      if (req.headers.authorization !== "Bearer test-token")
        return send(401, status(401, "Unauthorized", "Unauthorized"));
      const m = /^\/apis\/apps\/v1\/namespaces\/([^/]+)\/deployments\/([^/]+)(\/scale)?$/.exec(path);
      if (!m) return send(404, status(404, "NotFound", "the server could not find the requested resource"));
      const [, ns, name, scale] = m;
      const d = store.get(`${ns}/${name}`);
      if (!d) return send(404, status(404, "NotFound", `deployments.apps "${name}" not found`));
      if (req.method === "PATCH") {
        if (req.headers["content-type"] !== "application/merge-patch+json")
          return send(
            415,
            status(
              415,
              "UnsupportedMediaType",
              `the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml`,
            ),
          );
        const patch = JSON.parse(body) as {
          spec?: { replicas?: number };
          metadata?: { annotations?: Record<string, string | null> };
        };
        if (scale) {
          if (typeof patch.spec?.replicas === "number") d.replicas = patch.spec.replicas;
        } else {
          if (typeof patch.spec?.replicas === "number") d.replicas = patch.spec.replicas;
          for (const [k, v] of Object.entries(patch.metadata?.annotations ?? {}))
            if (v === null) delete d.annotations[k];
            else d.annotations[k] = v;
        }
        d.rv++;
      } else if (req.method !== "GET") return send(405, status(405, "MethodNotAllowed", "method not allowed"));
      const metadata = { name, namespace: ns, uid: `uid-${name}`, resourceVersion: String(d.rv), generation: d.rv };
      if (scale)
        return send(200, {
          kind: "Scale",
          apiVersion: "autoscaling/v1",
          metadata,
          spec: { replicas: d.replicas },
          status: { replicas: d.replicas, selector: `app=${name}` },
        });
      return send(200, {
        kind: "Deployment",
        apiVersion: "apps/v1",
        metadata: { ...metadata, annotations: { ...d.annotations } },
        spec: {
          replicas: d.replicas,
          selector: { matchLabels: { app: name } },
          template: {
            metadata: { labels: { app: name } },
            spec: { containers: [{ name, image: `eventchain/${name}:1.0.0` }] },
          },
        },
        status: { replicas: d.replicas, availableReplicas: d.replicas, observedGeneration: d.rv },
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  t.teardown(() => server.close());
  const port = (server.address() as { port: number }).port;
  return {
    kind: "recorded-shape stand-in",
    kubeconfig: kubeconfigFor(dir, `https://127.0.0.1:${port}`, "test-token", tls.ca),
    requests,
    async create(ns, name, replicas) {
      store.set(`${ns}/${name}`, { replicas, annotations: {}, rv: 1 });
    },
    async deployment(ns, name) {
      const d = store.get(`${ns}/${name}`);
      return d && { replicas: d.replicas, annotations: { ...d.annotations } };
    },
  };
}

/** The binaries of a real API server, when this machine has them. */
export function kubeBinaries(): { apiserver: string; etcd: string } | undefined {
  const tools = new URL("../../.tools/kube/bin/", import.meta.url).pathname;
  const apiserver = process.env.KUBE_APISERVER_BIN ?? join(tools, "kube-apiserver");
  const etcd = process.env.ETCD_BIN ?? join(tools, "etcd");
  return existsSync(apiserver) && existsSync(etcd) ? { apiserver, etcd } : undefined;
}

const freePort = async () => {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
};

/** A real kube-apiserver over a real etcd, both on loopback, static token auth, AlwaysAllow. */
async function realServer(t: ExecutionContext, bin: { apiserver: string; etcd: string }): Promise<KubeApiHandle> {
  const dir = mkdtempSync(join(tmpdir(), "kube-real-"));
  const procs: ChildProcess[] = [];
  t.teardown(() => {
    for (const p of procs) p.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  });
  const [client, peer, secure] = [await freePort(), await freePort(), await freePort()];
  procs.push(
    spawn(
      bin.etcd,
      [
        "--data-dir",
        join(dir, "etcd"),
        "--listen-client-urls",
        `http://127.0.0.1:${client}`,
        "--advertise-client-urls",
        `http://127.0.0.1:${client}`,
        "--listen-peer-urls",
        `http://127.0.0.1:${peer}`,
        "--initial-advertise-peer-urls",
        `http://127.0.0.1:${peer}`,
        "--initial-cluster",
        `default=http://127.0.0.1:${peer}`,
      ],
      { stdio: "ignore" },
    ),
  );
  execFileSync("openssl", ["genrsa", "-out", join(dir, "sa.key"), "2048"], { stdio: "ignore" });
  writeFileSync(join(dir, "tokens.csv"), "test-token,test,1000,system:masters\n", { mode: 0o600 });
  procs.push(
    spawn(
      bin.apiserver,
      [
        "--etcd-servers",
        `http://127.0.0.1:${client}`,
        "--bind-address",
        "127.0.0.1",
        "--advertise-address",
        "127.0.0.1",
        "--secure-port",
        String(secure),
        "--cert-dir",
        join(dir, "certs"),
        "--token-auth-file",
        join(dir, "tokens.csv"),
        "--authorization-mode",
        "AlwaysAllow",
        "--service-account-issuer",
        "https://kubernetes.default.svc",
        "--service-account-key-file",
        join(dir, "sa.key"),
        "--service-account-signing-key-file",
        join(dir, "sa.key"),
        "--service-cluster-ip-range",
        "10.96.0.0/24",
        "--disable-admission-plugins",
        "ServiceAccount",
      ],
      { stdio: "ignore" },
    ),
  );
  const server = `https://127.0.0.1:${secure}`;
  const ca = join(dir, "certs", "apiserver.crt");
  const deadline = Date.now() + 120_000;
  for (;;) {
    if (existsSync(ca)) {
      try {
        execFileSync("curl", ["-sf", "--cacert", ca, "-H", "Authorization: Bearer test-token", `${server}/readyz`], {
          stdio: "ignore",
        });
        break;
      } catch {
        // not ready yet
      }
    }
    if (Date.now() > deadline) throw new Error("kube-apiserver did not become ready within 120 s");
    await new Promise((r) => setTimeout(r, 500));
  }
  const kubeconfig = kubeconfigFor(dir, server, "test-token", ca);
  const kubectl = (args: string[], input?: string) =>
    execFileSync("kubectl", ["--kubeconfig", kubeconfig, ...args], { input, encoding: "utf8" });
  return {
    kind: "kube-apiserver",
    kubeconfig,
    requests: [],
    async create(ns, name, replicas) {
      try {
        kubectl(["create", "namespace", ns]);
      } catch {
        // exists
      }
      kubectl(
        ["apply", "-f", "-"],
        JSON.stringify({
          apiVersion: "apps/v1",
          kind: "Deployment",
          metadata: { name, namespace: ns },
          spec: {
            replicas,
            selector: { matchLabels: { app: name } },
            template: {
              metadata: { labels: { app: name } },
              spec: { containers: [{ name, image: `eventchain/${name}:1.0.0` }] },
            },
          },
        }),
      );
    },
    async deployment(ns, name) {
      try {
        const d = JSON.parse(kubectl(["get", "deployment", "-n", ns, name, "-o", "json"])) as {
          spec: { replicas: number };
          metadata: { annotations?: Record<string, string> };
        };
        return { replicas: d.spec.replicas, annotations: d.metadata.annotations ?? {} };
      } catch {
        return undefined;
      }
    },
  };
}

/** A real API server when one can run here, else the stand-in (the test says which it used). */
export async function kubeApi(t: ExecutionContext): Promise<KubeApiHandle> {
  const bin = kubeBinaries();
  return bin ? realServer(t, bin) : standIn(t);
}
