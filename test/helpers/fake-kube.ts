/**
 * A fake Kubernetes API server on loopback serving recorded responses
 * (test/fixtures/kube/recorded-api.json), plus a kubeconfig pointing kubectl at it. Requests
 * for paths that were not recorded answer 404 and are remembered, so a test can assert that
 * nothing unexpected (e.g. `events`, subresources) was asked for.
 */
import { createServer } from "node:http";
import { readFileSync, writeFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ExecutionContext } from "ava";

const FIXTURE = new URL("../fixtures/kube/recorded-api.json", import.meta.url);

export interface FakeKube {
  url: string;
  kubeconfig: string;
  requests: string[];
  unknown: string[];
  /** Add or replace a recorded response. */
  set(path: string, body: unknown): void;
}

export async function fakeKube(t: ExecutionContext): Promise<FakeKube> {
  // Paths are compared with their query parameters sorted (kubectl may reorder them).
  const normalize = (p: string): string => {
    const u = new URL(p, "http://x");
    u.searchParams.delete("timeout"); // kubectl's client-side timeout hint
    u.searchParams.sort();
    return u.pathname + (u.search || "");
  };
  const recorded = (JSON.parse(readFileSync(FIXTURE, "utf8")) as { responses: Record<string, unknown> }).responses;
  const responses = Object.fromEntries(Object.entries(recorded).map(([k, v]) => [normalize(k), v]));
  const requests: string[] = [];
  const unknown: string[] = [];
  const server = createServer((req, res) => {
    const path = req.url ?? "/";
    requests.push(path);
    const body = responses[normalize(path)];
    if (body === undefined || req.method !== "GET") {
      unknown.push(`${req.method} ${path}`);
      res.writeHead(404, { "content-type": "application/json" });
      res.end(JSON.stringify({ kind: "Status", apiVersion: "v1", status: "Failure", reason: "NotFound", code: 404 }));
      return;
    }
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify(body));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as { port: number }).port;
  const dir = mkdtempSync(join(tmpdir(), "fake-kube-"));
  t.teardown(() => {
    server.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const url = `http://127.0.0.1:${port}`;
  const kubeconfig = join(dir, "kubeconfig");
  writeFileSync(
    kubeconfig,
    `apiVersion: v1\nkind: Config\nclusters:\n- name: fake\n  cluster:\n    server: ${url}\ncontexts:\n- ` +
      `name: fake\n  context:\n    cluster: fake\n    user: fake\ncurrent-context: fake\nusers:\n- name: ` +
      `fake\n  user: {}\n`,
    { mode: 0o600 },
  );
  return { url, kubeconfig, requests, unknown, set: (p, b) => (responses[normalize(p)] = b) };
}

// Long on purpose: one case per API path the application check calls, in the shape of the recorded API.
/**
 * A stateful fake Kubernetes API for the calls dr-test's application check makes through
 * `kubectl get|create|delete --raw`: namespaces, deployments (available after `readyAfter`
 * polls), pods, the pod proxy's health path. Object shapes follow the recorded API.
 */
export async function statefulKube(
  t: ExecutionContext,
  o: { readyAfter: number; source: Record<string, unknown> },
): Promise<{
  kubeconfig: string;
  namespaces: Set<string>;
  calls: string[];
  /** Every Deployment created through the API, as posted. */
  created: Record<string, unknown>[];
}> {
  const namespaces = new Set(["eventchain"]);
  const labels = new Map<string, Record<string, string>>();
  const created: Record<string, unknown>[] = [];
  const deployments = new Map<string, Record<string, unknown>>([["eventchain/eventchain-backend", o.source]]);
  const calls: string[] = [];
  let polls = 0;
  const send = (res: import("node:http").ServerResponse, code: number, body: unknown) => {
    res.writeHead(code, { "content-type": "application/json" });
    res.end(JSON.stringify(body));
  };
  const server = createServer((req, res) => {
    let body = "";
    req.on("data", (c: Buffer) => (body += c.toString()));
    req.on("end", () => {
      const url = new URL(req.url ?? "/", "http://x");
      const path = url.pathname;
      calls.push(`${req.method} ${path}`);
      const notFound = () =>
        send(res, 404, {
          kind: "Status",
          apiVersion: "v1",
          status: "Failure",
          reason: "NotFound",
          message: `${path} not found`,
          code: 404,
        });
      if (path === "/version") return send(res, 200, { major: "1", minor: "29" });
      let m = path.match(/^\/apis\/apps\/v1\/namespaces\/([^/]+)\/deployments(?:\/([^/]+))?$/);
      if (m && req.method === "GET" && m[2]) {
        const d = deployments.get(`${m[1]}/${m[2]}`);
        if (!d) return notFound();
        if (m[1] === "eventchain") return send(res, 200, d);
        polls++;
        return send(res, 200, {
          ...d,
          status: { availableReplicas: o.readyAfter >= 0 && polls > o.readyAfter ? 1 : 0 },
        });
      }
      if (m && req.method === "POST" && !m[2]) {
        if (!namespaces.has(m[1]!)) return notFound();
        const d = JSON.parse(body) as { metadata: { name: string } };
        deployments.set(`${m[1]}/${d.metadata.name}`, d as unknown as Record<string, unknown>);
        created.push(d as unknown as Record<string, unknown>);
        return send(res, 201, d);
      }
      if (path === "/api/v1/namespaces" && req.method === "POST") {
        const n = JSON.parse(body) as { metadata: { name: string; labels?: Record<string, string> } };
        if (namespaces.has(n.metadata.name))
          return send(res, 409, { kind: "Status", status: "Failure", reason: "AlreadyExists", code: 409 });
        namespaces.add(n.metadata.name);
        labels.set(n.metadata.name, n.metadata.labels ?? {});
        return send(res, 201, n);
      }
      m = path.match(/^\/api\/v1\/namespaces\/([^/]+)$/);
      if (m) {
        if (!namespaces.has(m[1]!)) return notFound();
        if (req.method === "DELETE") {
          namespaces.delete(m[1]!);
          for (const k of [...deployments.keys()]) if (k.startsWith(`${m[1]}/`)) deployments.delete(k);
          return send(res, 200, { kind: "Namespace", metadata: { name: m[1] }, status: { phase: "Terminating" } });
        }
        return send(res, 200, {
          kind: "Namespace",
          metadata: { name: m[1], labels: labels.get(m[1]!) ?? {} },
          status: { phase: "Active" },
        });
      }
      m = path.match(/^\/api\/v1\/namespaces\/([^/]+)\/pods$/);
      if (m && namespaces.has(m[1]!))
        return send(res, 200, {
          kind: "PodList",
          items: [{ metadata: { name: "eventchain-backend-7c9d-x1", namespace: m[1] } }],
        });
      if (/^\/api\/v1\/namespaces\/[^/]+\/pods\/eventchain-backend-7c9d-x1:\d+\/proxy\/health$/.test(path))
        return send(res, 200, { status: "ok" });
      return notFound();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as { port: number }).port;
  const dir = mkdtempSync(join(tmpdir(), "fake-kube-"));
  t.teardown(() => {
    server.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const kubeconfig = join(dir, "kubeconfig");
  writeFileSync(
    kubeconfig,
    `apiVersion: v1\nkind: Config\nclusters:\n- name: fake\n  cluster:\n    server: ` +
      `http://127.0.0.1:${port}\ncontexts:\n- name: fake\n  context:\n    cluster: fake\n    user: ` +
      `fake\ncurrent-context: fake\nusers:\n- name: fake\n  user: {}\n`,
    { mode: 0o600 },
  );
  return { kubeconfig, namespaces, calls, created };
}

/**
 * The fake API as a pod sees it: HTTPS on loopback with a self-signed CA (made with openssl),
 * requests checked for the service-account token, forwarded to `upstream` (a `fakeKube`). The
 * returned directory is laid out like a pod's service-account mount (`token`, `ca.crt`,
 * `namespace`); `KUBERNETES_SERVICE_HOST`/`PORT` point at the server.
 */
export async function inClusterKube(
  t: ExecutionContext,
  upstream: string,
): Promise<{ env: Record<string, string>; serviceAccountDir: string; rejected: () => number }> {
  const { createServer: createHttpsServer } = await import("node:https");
  const { execFileSync } = await import("node:child_process");
  const dir = mkdtempSync(join(tmpdir(), "fake-kube-sa-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
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
  const token = `fake-${Math.random().toString(36).slice(2)}`;
  writeFileSync(join(dir, "token"), token, { mode: 0o600 });
  writeFileSync(join(dir, "namespace"), "eventchain");
  let rejected = 0;
  const server = createHttpsServer(
    { key: readFileSync(join(dir, "tls.key")), cert: readFileSync(join(dir, "ca.crt")) },
    async (req, res) => {
      if (req.headers.authorization !== `Bearer ${token}`) {
        rejected++;
        res.writeHead(401, { "content-type": "application/json" });
        res.end(JSON.stringify({ kind: "Status", status: "Failure", reason: "Unauthorized", code: 401 }));
        return;
      }
      const up = await fetch(upstream + (req.url ?? "/"));
      res.writeHead(up.status, { "content-type": "application/json" });
      res.end(Buffer.from(await up.arrayBuffer()));
    },
  );
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  t.teardown(() => server.close());
  const port = (server.address() as { port: number }).port;
  return {
    env: { KUBERNETES_SERVICE_HOST: "127.0.0.1", KUBERNETES_SERVICE_PORT: String(port) },
    serviceAccountDir: dir,
    rejected: () => rejected,
  };
}
