/**
 * Proof from the DNS data plane: ask the hosted zone's own authoritative name servers (recorded in
 * the outputs at deploy time) what they answer for the record, as a resolver would — no Route 53
 * API call. Each query is bounded; a server that does not answer is reported, not waited on.
 */
import { lookup } from "node:dns/promises";
import { Resolver } from "node:dns/promises";
import { isIP } from "node:net";
import { bounded, formatSeconds } from "./bounded.ts";
import { pause } from "./pause.ts";

/** `host`, `host:port`, `ip`, `ip:port` or `[ipv6]:port` → host and port (53 by default). */
export function parseNameServer(server: string): { host: string; port: number } {
  const v6 = /^\[([^\]]+)\](?::(\d+))?$/.exec(server);
  if (v6) return { host: v6[1]!, port: Number(v6[2] ?? 53) };
  if (isIP(server) === 6) return { host: server, port: 53 };
  const m = /^([^:]+)(?::(\d+))?$/.exec(server);
  if (!m) throw new Error(`name server "${server}" is not host, host:port or [ipv6]:port`);
  return { host: m[1]!, port: Number(m[2] ?? 53) };
}

const bare = (name: string) => name.replace(/\.$/, "").toLowerCase();

/** What one authoritative server answered for `name` CNAME (lower case, no trailing dot). */
export async function askAuthoritative(server: string, name: string, timeoutMs: number): Promise<string> {
  const { host, port } = parseNameServer(server);
  const address = isIP(host) ? host : (await lookup(host)).address;
  const resolver = new Resolver({ timeout: timeoutMs, tries: 1 });
  resolver.setServers([isIP(address) === 6 ? `[${address}]:${port}` : `${address}:${port}`]);
  try {
    const answers = await resolver.resolveCname(name);
    if (!answers[0]) throw new Error("no CNAME in the answer");
    return bare(answers[0]);
  } finally {
    resolver.cancel();
  }
}

export interface ServerAnswer {
  server: string;
  answer: string | null;
  error?: string;
}

export interface ClientsMoved {
  record: string;
  expected: string;
  /** When every server that answered gave `expected` (ISO). */
  answeredAt: string;
  /** answeredAt + TTL: by then every client that honours the TTL asks again and gets `expected`. */
  clientsMovedBy: string;
  servers: ServerAnswer[];
  unreachable: string[];
  queries: number;
}

/** Asks every server side by side, each within `queryMs`. */
export async function askAll(nameServers: string[], name: string, queryMs: number): Promise<ServerAnswer[]> {
  return Promise.all(
    nameServers.map(async (server) => {
      const r = await bounded(`DNS ${name} CNAME @${server}`, queryMs, () => askAuthoritative(server, name, queryMs));
      return r.ok ? { server, answer: r.value } : { server, answer: null, error: r.error };
    }),
  );
}

/**
 * Polls the authoritative servers (backoff from 1 s to 10 s) until every one that answers gives
 * `expected` and at least one answers, at most `boundMs`. Throws with what each server last said.
 */
export async function waitForAuthoritativeAnswer(p: {
  nameServers: string[];
  record: string;
  expected: string;
  ttlSeconds: number;
  boundMs: number;
  queryMs?: number;
  signal?: AbortSignal;
}): Promise<ClientsMoved> {
  if (p.nameServers.length === 0)
    throw new Error(
      `no authoritative name servers in the outputs (failover.nameServers): cannot prove from the DNS data ` +
        `plane that ${p.record} answers ${p.expected}; deploy the dr stack with this version, or check with ` +
        `dig @<name server> ${p.record} CNAME`,
    );
  const expected = bare(p.expected);
  const queryMs = p.queryMs ?? 3000;
  const deadline = Date.now() + p.boundMs;
  let delay = 1000;
  let queries = 0;
  let last: ServerAnswer[] = [];
  for (;;) {
    last = await askAll(p.nameServers, p.record, Math.max(200, Math.min(queryMs, deadline - Date.now())));
    queries++;
    const answered = last.filter((s) => s.answer !== null);
    if (answered.length > 0 && answered.every((s) => s.answer === expected)) {
      const at = new Date();
      return {
        record: p.record,
        expected,
        answeredAt: at.toISOString(),
        clientsMovedBy: new Date(at.getTime() + p.ttlSeconds * 1000).toISOString(),
        servers: last,
        unreachable: last.filter((s) => s.answer === null).map((s) => s.error ?? s.server),
        queries,
      };
    }
    if (Date.now() + delay > deadline) break;
    await pause(delay, p.signal);
    delay = Math.min(delay * 2, 10_000);
  }
  const said = last.map((s) => `${s.server}: ${s.answer ?? s.error}`).join("; ");
  throw new Error(
    `the authoritative name servers do not all answer ${expected} for ${p.record} within ${formatSeconds(p.boundMs)} (detection time + TTL): ${said}`,
  );
}
