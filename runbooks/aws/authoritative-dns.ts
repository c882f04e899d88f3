/**
 * Proof from the DNS data plane: ask the hosted zone's own authoritative name servers (recorded in
 * the outputs at deploy time) what they answer for the record, as a resolver would — no Route 53
 * API call. Each query is bounded; a server that does not answer is reported, not waited on.
 *
 * A CNAME record answers the target's name. An `A` record — in Route 53 an alias to the load
 * balancer — answers addresses: Route 53 resolves an alias itself and returns the target's
 * current A records under the record's own name. So an A record is proved by its addresses
 * overlapping those the target name resolves to at the same moment (a load balancer's addresses
 * change over time, so each poll resolves the target again).
 */
import { lookup, resolve4 } from "node:dns/promises";
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

/** The record types the contract allows (`dns.recordType`). */
export type RecordType = "CNAME" | "A";

/** An answer that says the record does not exist (NXDOMAIN, or no record of the type): not a silent server. */
export const NO_SUCH_RECORD = /ENOTFOUND|ENODATA|no CNAME|no A record/;

/**
 * What one authoritative server answered for `name`: a CNAME's target (lower case, no trailing
 * dot), or an A record's addresses (sorted, comma-separated).
 */
export async function askAuthoritative(
  server: string,
  name: string,
  timeoutMs: number,
  type: RecordType = "CNAME",
): Promise<string> {
  const { host, port } = parseNameServer(server);
  const address = isIP(host) ? host : (await lookup(host)).address;
  const resolver = new Resolver({ timeout: timeoutMs, tries: 1 });
  resolver.setServers([isIP(address) === 6 ? `[${address}]:${port}` : `${address}:${port}`]);
  try {
    if (type === "A") {
      const addresses = await resolver.resolve4(name);
      if (!addresses.length) throw new Error("no A record in the answer");
      return [...addresses].sort().join(",");
    }
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
  recordType: RecordType;
  /** The target name the record must lead to (for an A record: the name whose addresses it answers). */
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
export async function askAll(
  nameServers: string[],
  name: string,
  queryMs: number,
  type: RecordType = "CNAME",
): Promise<ServerAnswer[]> {
  return Promise.all(
    nameServers.map(async (server) => {
      const r = await bounded(`DNS ${name} ${type} @${server}`, queryMs, () =>
        askAuthoritative(server, name, queryMs, type),
      );
      return r.ok ? { server, answer: r.value } : { server, answer: null, error: r.error };
    }),
  );
}

/** How a target name's current addresses are found (the system resolver; tests point it elsewhere). */
export type AddressResolver = (name: string) => Promise<string[]>;

/** Whether one server's answer leads to `expected`: the same name (CNAME), or addresses `expected` has now (A). */
async function leadsTo(
  answer: string,
  type: RecordType,
  expected: string,
  addressesOf: () => Promise<Set<string>>,
): Promise<boolean> {
  if (type === "CNAME") return answer === expected;
  const now = await addressesOf();
  return answer.split(",").some((a) => now.has(a));
}

/**
 * Polls the authoritative servers (backoff from 1 s to 10 s) until every one that answers gives
 * `expected` and at least one answers, at most `boundMs`. Throws with what each server last said.
 */
export async function waitForAuthoritativeAnswer(p: {
  nameServers: string[];
  record: string;
  /** Default CNAME. */
  recordType?: RecordType;
  expected: string;
  /** For an A record: how `expected`'s addresses are resolved (default the system resolver). */
  resolveAddresses?: AddressResolver;
  ttlSeconds: number;
  boundMs: number;
  queryMs?: number;
  signal?: AbortSignal;
}): Promise<ClientsMoved> {
  if (p.nameServers.length === 0)
    throw new Error(
      `no authoritative name servers in the outputs (failover.nameServers): cannot prove from the DNS data plane that ${p.record} answers ${p.expected}; deploy the dr stack with this version, or check with dig @<name server> ${p.record} ${p.recordType ?? "CNAME"}`,
    );
  const type = p.recordType ?? "CNAME";
  const expected = bare(p.expected);
  const resolveAddresses = p.resolveAddresses ?? resolve4;
  // The target's addresses, resolved once per poll (only for an A record, only when asked).
  let targetNow: Promise<Set<string>> | undefined;
  const addressesOf = () =>
    (targetNow ??= resolveAddresses(expected).then(
      (a) => new Set(a),
      () => new Set<string>(),
    ));
  const queryMs = p.queryMs ?? 3000;
  const deadline = Date.now() + p.boundMs;
  let delay = 1000;
  let queries = 0;
  let last: ServerAnswer[] = [];
  for (;;) {
    last = await askAll(p.nameServers, p.record, Math.max(200, Math.min(queryMs, deadline - Date.now())), type);
    queries++;
    targetNow = undefined;
    const answered = last.filter((s) => s.answer !== null);
    const moved = await Promise.all(answered.map((s) => leadsTo(s.answer!, type, expected, addressesOf)));
    if (answered.length > 0 && moved.every(Boolean)) {
      const at = new Date();
      return {
        record: p.record,
        recordType: type,
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
    `the authoritative name servers do not all answer ${type === "A" ? `the addresses of ${expected}` : expected} for ${p.record}${type === "A" ? " (A)" : ""} within ${formatSeconds(p.boundMs)} (detection time + TTL): ${said}`,
  );
}
