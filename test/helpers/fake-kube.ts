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
    `apiVersion: v1\nkind: Config\nclusters:\n- name: fake\n  cluster:\n    server: ${url}\ncontexts:\n- name: fake\n  context:\n    cluster: fake\n    user: fake\ncurrent-context: fake\nusers:\n- name: fake\n  user: {}\n`,
    { mode: 0o600 },
  );
  return { url, kubeconfig, requests, unknown, set: (p, b) => (responses[normalize(p)] = b) };
}
