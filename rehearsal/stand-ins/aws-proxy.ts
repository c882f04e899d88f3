/**
 * One HTTP proxy on loopback in front of the AWS emulator (moto), for the tests and the bench.
 *
 * moto answers every call in milliseconds, every resource is ready at once and every API is
 * always up. The proxy puts the day of a regional disaster back:
 * - **faults** (`rule`): each request is classified — service and region from the SigV4
 *   credential scope, the action from the protocol, the protocol itself — and a rule may reset
 *   the connection (a refused or dropped region), hang it, answer a 5xx or a throttling error
 *   in that protocol's own error shape, add latency, or let it through;
 * - **latency** (`delays`, per `service:Action`) and **pending holds** (`pending`: a resource
 *   stays `creating` for a while after the call that creates it), so a runbook's critical path
 *   and its overhead become measurable (the bench).
 * It records every call it saw.
 */
import { createServer, request, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { setTimeout as sleepMs } from "node:timers/promises";

/** Latency per `service:Action`; `service:*` and `*` are fallbacks. Milliseconds. */
export type DelayTable = Record<string, number>;

/**
 * Makes `on` calls rewrite `from` to `to` in response bodies for `forMs` after the first call
 * matching `after` (a resource that takes time to become ready).
 */
export interface PendingRule {
  after: string;
  on: string;
  forMs: number;
  /** Text to replace; a regular expression (global) when `regex` is set. */
  from: string;
  to: string;
  regex?: boolean;
}

/** Applies one rule's rewrite; returns the new text and whether anything changed. */
export function rewrite(
  text: string,
  rule: Pick<PendingRule, "from" | "to" | "regex">,
): { text: string; changed: boolean } {
  if (rule.regex) {
    const re = new RegExp(rule.from, "g");
    const out = text.replace(re, rule.to);
    return { text: out, changed: out !== text };
  }
  return text.includes(rule.from)
    ? { text: text.split(rule.from).join(rule.to), changed: true }
    : { text, changed: false };
}

/** The wire protocol of a request, which decides how an injected error must look. */
export type AwsProtocol = "query" | "json" | "rest-xml" | "rest-json" | "s3";

/** A request as a fault rule sees it. */
export interface ProxiedRequest {
  service: string;
  region: string;
  action: string;
  protocol: AwsProtocol;
  body: string;
}

/**
 * What a rule does with a request: `undefined` lets it through; `"reset"` destroys the
 * connection at once (the client sees a network error, as for a refused or unreachable
 * endpoint); `"hang"` never answers; `"lose-answer"` lets the request reach the upstream (it
 * takes effect) and then resets the connection instead of answering (a lost response);
 * `{ delayMs }` adds latency, then lets it through; an answer is sent as is.
 */
export type Fault =
  | undefined
  | "reset"
  | "hang"
  | "lose-answer"
  | { delayMs: number }
  | { status: number; body: string; contentType?: string; headers?: Record<string, string> };

/**
 * Decides a request's fate. It may be async: a test can simulate what AWS would do downstream of a
 * call moto only stores (e.g. evaluate an alarm) before letting the call through.
 */
export type FaultRule = (req: ProxiedRequest) => Fault | Promise<Fault>;

export interface DelayProxyOptions {
  /** Base URL of the upstream, e.g. `http://127.0.0.1:5000`. */
  target: string;
  /** Fault injection; replaceable later with `setRule`. Default: none. */
  rule?: FaultRule;
  delays?: DelayTable;
  pending?: PendingRule[];
  /** Injected for tests; defaults to a real timer. */
  sleep?: (ms: number) => Promise<void>;
  /** Injected for tests; defaults to Date.now. */
  now?: () => number;
}

export interface CallRecord {
  key: string;
  region: string;
  /** What the rule did: "passed", "reset", "hang", "lose-answer", "delayed", or the injected status. */
  fault: string;
  /** When the request arrived (options.now clock, ms). */
  at: number;
  delayMs: number;
  status: number;
  /** True when a pending rule rewrote the response. */
  held: boolean;
}

export interface HoldReport {
  rule: PendingRule;
  /** ms clock: when the hold ended (first `after` call + forMs); null when `after` never came. */
  readyAt: number | null;
  /** ms clock: arrival of the first `on` call answered unheld after readyAt; null if none. */
  seenReadyAt: number | null;
  /** seenReadyAt − readyAt: how late the polling noticed (ms). */
  lagMs: number | null;
}

export interface DelayProxy {
  readonly url: string;
  readonly port: number;
  /** Every call seen, in arrival order. */
  readonly calls: CallRecord[];
  /** When each pending rule's hold ended, and when a poll first saw the resource ready. */
  holds(): HoldReport[];
  /** Forgets calls and holds (between repetitions against a reset emulator). */
  clear(): void;
  /** Replaces the fault rule (`undefined`: none). */
  setRule(rule: FaultRule | undefined): void;
  close(): Promise<void>;
}

/** The service name from a SigV4 `Authorization` header's credential scope, or "unknown". */
export function serviceOf(headers: IncomingHttpHeaders): string {
  const auth = String(headers.authorization ?? "");
  const m = /Credential=[^/]+\/\d{8}\/[^/]+\/([^/]+)\/aws4_request/.exec(auth);
  return m?.[1] ?? "unknown";
}

/** The region from a SigV4 `Authorization` header's credential scope, or "unknown". */
export function regionOf(headers: IncomingHttpHeaders): string {
  const auth = String(headers.authorization ?? "");
  const m = /Credential=[^/]+\/\d{8}\/([^/]+)\/[^/]+\/aws4_request/.exec(auth);
  return m?.[1] ?? "unknown";
}

/** The wire protocol of a request (service first: S3 and Route 53 are REST; then the content type). */
export function protocolOf(service: string, headers: IncomingHttpHeaders): AwsProtocol {
  if (service === "s3") return "s3";
  if (service === "route53") return "rest-xml";
  const ct = String(headers["content-type"] ?? "");
  if (ct.includes("x-amz-json")) return "json";
  if (ct.includes("x-www-form-urlencoded")) return "query";
  return ct.includes("json") ? "rest-json" : "rest-xml";
}

/**
 * The API action of a request, for the three protocols our clients use: query (`Action=` in a
 * form body), JSON (`X-Amz-Target: Prefix.Action`), RPC v2 (`/service/X/operation/Action`);
 * REST protocols (Route 53, S3) get `METHOD /path` with id-like segments replaced by `{id}`.
 */
export function actionOf(method: string, url: string, headers: IncomingHttpHeaders, body: string): string {
  const target = headers["x-amz-target"];
  if (typeof target === "string" && target.includes(".")) return target.slice(target.lastIndexOf(".") + 1);
  const rpc = /\/service\/[^/]+\/operation\/([^/?]+)/.exec(url);
  if (rpc) return rpc[1]!;
  const query = new URL(url, "http://x").searchParams.get("Action");
  if (query) return query;
  const ct = String(headers["content-type"] ?? "");
  if (ct.includes("x-www-form-urlencoded")) {
    const action = new URLSearchParams(body).get("Action");
    if (action) return action;
  }
  const path = new URL(url, "http://x").pathname
    .split("/")
    .map((seg) => (/^(?:\d{4}-\d\d-\d\d)$/.test(seg) ? "" : /[0-9]/.test(seg) && seg.length > 6 ? "{id}" : seg))
    .filter(Boolean)
    .join("/");
  return `${method} /${path}`;
}

/** The delay for `key` (`service:Action`): exact, then `service:*`, then `*`, else 0. */
export function delayFor(table: DelayTable, key: string): number {
  if (key in table) return table[key]!;
  const service = key.slice(0, key.indexOf(":"));
  if (`${service}:*` in table) return table[`${service}:*`]!;
  return table["*"] ?? 0;
}

/** Validates a delay table: keys `service:Action`, `service:*` or `*`; values 0–60000 ms. */
export function validateDelays(table: DelayTable): DelayTable {
  for (const [k, v] of Object.entries(table)) {
    if (k !== "*" && !/^[a-z0-9-]+:(\*|[A-Za-z0-9 /{}_.-]+)$/.test(k)) {
      throw new Error(`delay key "${k}" is not allowed: expected "service:Action", "service:*" or "*"`);
    }
    if (!Number.isFinite(v) || v < 0 || v > 60_000) {
      throw new Error(`delay for "${k}" is ${v}: expected milliseconds from 0 to 60000`);
    }
  }
  return table;
}

async function readBody(req: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

// Long on purpose: the request handler's fault cases read in order (reset, hang, answer, delay, hold, pass).
/** Starts the proxy on 127.0.0.1 on a free port. */
export async function startDelayProxy(options: DelayProxyOptions): Promise<DelayProxy> {
  const upstream = new URL(options.target);
  if (upstream.protocol !== "http:" || !["127.0.0.1", "localhost", "::1"].includes(upstream.hostname)) {
    throw new Error(
      `delay proxy target "${options.target}" is not allowed: expected http:// on loopback (127.0.0.1, localhost, ::1)`,
    );
  }
  const delays = validateDelays(options.delays ?? {});
  const sleep = options.sleep ?? ((ms: number) => sleepMs(ms).then(() => undefined));
  const now = options.now ?? Date.now;
  const pending = options.pending ?? [];
  const firstSeen = new Map<string, number>();
  const calls: CallRecord[] = [];
  let rule = options.rule;
  const held = new Set<import("node:http").ServerResponse>();

  const server: Server = createServer(async (req, res) => {
    try {
      const at = now();
      const body = await readBody(req);
      const text = body.toString("utf8");
      const service = serviceOf(req.headers);
      const region = regionOf(req.headers);
      const action = actionOf(req.method ?? "GET", req.url ?? "/", req.headers, text);
      const key = `${service}:${action}`;
      const fault = await rule?.({ service, region, action, protocol: protocolOf(service, req.headers), body: text });
      const record = (status: number, what: string, delayMs = 0) =>
        calls.push({ key, region, fault: what, at, delayMs, status, held: false });
      if (fault === "reset") {
        record(0, "reset");
        req.socket.destroy();
        return;
      }
      if (fault === "hang") {
        record(0, "hang");
        held.add(res);
        return;
      }
      if (fault && fault !== "lose-answer" && "status" in fault) {
        record(fault.status, String(fault.status));
        res.writeHead(fault.status, {
          "content-type": fault.contentType ?? "text/xml",
          "x-amzn-requestid": "fault-proxy",
          ...fault.headers,
        });
        res.end(fault.body);
        return;
      }
      if (!firstSeen.has(key)) firstSeen.set(key, at);
      const delayMs = delayFor(delays, key) + (fault && fault !== "lose-answer" ? fault.delayMs : 0);
      if (delayMs > 0) await sleep(delayMs);
      const holds = pending.filter(
        (p) => p.on === key && firstSeen.has(p.after) && at - firstSeen.get(p.after)! < p.forMs,
      );
      const headers = { ...req.headers, host: upstream.host };
      const up = request(
        { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers },
        async (upRes) => {
          const record: CallRecord = {
            key,
            region,
            fault: fault === "lose-answer" ? "lose-answer" : fault ? "delayed" : "passed",
            at,
            delayMs,
            status: upRes.statusCode ?? 0,
            held: false,
          };
          calls.push(record);
          if (fault === "lose-answer") {
            upRes.resume();
            upRes.once("end", () => req.socket.destroy());
            return;
          }
          if (holds.length === 0) {
            res.writeHead(upRes.statusCode ?? 502, upRes.headers);
            upRes.pipe(res);
            return;
          }
          let text = (await readBody(upRes)).toString("utf8");
          for (const h of holds) {
            const r = rewrite(text, h);
            text = r.text;
            record.held ||= r.changed;
          }
          const out = Buffer.from(text, "utf8");
          const { "content-length": _cl, "transfer-encoding": _te, ...rest } = upRes.headers;
          res.writeHead(upRes.statusCode ?? 502, { ...rest, "content-length": out.length });
          res.end(out);
        },
      );
      up.on("error", (err) => {
        if (!res.headersSent) res.writeHead(502, { "content-type": "text/plain" });
        res.end(`delay proxy: upstream ${upstream.host} failed: ${err.message}`);
      });
      up.end(body);
    } catch (err) {
      if (!res.headersSent) res.writeHead(500, { "content-type": "text/plain" });
      res.end(`delay proxy: ${(err as Error).message}`);
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    calls,
    holds: () =>
      pending.map((rule) => {
        const start = firstSeen.get(rule.after);
        const readyAt = start === undefined ? null : start + rule.forMs;
        const seen = readyAt === null ? undefined : calls.find((c) => c.key === rule.on && !c.held && c.at >= readyAt);
        const seenReadyAt = seen ? seen.at : null;
        return {
          rule,
          readyAt,
          seenReadyAt,
          lagMs: readyAt !== null && seenReadyAt !== null ? seenReadyAt - readyAt : null,
        };
      }),
    clear: () => {
      calls.length = 0;
      firstSeen.clear();
    },
    setRule: (next) => {
      rule = next;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const res of held) res.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A throttling error in the request's own protocol (what a rate-limited AWS API answers). */
export function throttled(req: ProxiedRequest): Fault {
  return errorIn(req, { status: 400, code: "Throttling", jsonType: "ThrottlingException", message: "Rate exceeded" });
}

/** HTTP 503 in the request's own protocol (an API that is up but failing). */
export function unavailable(req: ProxiedRequest): Fault {
  return errorIn(req, {
    status: 503,
    code: "ServiceUnavailable",
    jsonType: "ServiceUnavailableException",
    message: "Service unavailable (injected)",
  });
}

function errorIn(
  req: ProxiedRequest,
  e: { status: number; code: string; jsonType: string; message: string },
): Exclude<Fault, undefined | "reset" | "hang" | { delayMs: number }> {
  switch (req.protocol) {
    case "json":
    case "rest-json":
      return {
        status: e.status,
        contentType: "application/x-amz-json-1.1",
        headers: { "x-amzn-errortype": e.jsonType, "x-amzn-query-error": `${e.code};Sender` },
        body: JSON.stringify({ __type: e.jsonType, message: e.message }),
      };
    case "s3":
      return {
        status: e.status === 400 ? 503 : e.status,
        body: `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${e.status === 400 ? "SlowDown" : e.code}</Code><Message>${e.message}</Message><RequestId>fault-proxy</RequestId></Error>`,
      };
    default:
      return {
        status: e.status,
        body: `<ErrorResponse><Error><Type>Sender</Type><Code>${e.code}</Code><Message>${e.message}</Message></Error><RequestId>fault-proxy</RequestId></ErrorResponse>`,
      };
  }
}

/**
 * Random faults at fixed rates, reproducible from `seed` (mulberry32): e.g. 20% throttled, 3%
 * HTTP 503 and 2% connection resets among the requests `only` selects (default: every one).
 */
export function randomFaults(p: {
  seed: number;
  throttle?: number;
  unavailable?: number;
  reset?: number;
  only?: (req: ProxiedRequest) => boolean;
}): FaultRule {
  let state = p.seed >>> 0;
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let x = Math.imul(state ^ (state >>> 15), 1 | state);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
  return (req) => {
    if (p.only && !p.only(req)) return undefined;
    const r = next();
    let edge = p.throttle ?? 0;
    if (r < edge) return throttled(req);
    edge += p.unavailable ?? 0;
    if (r < edge) return unavailable(req);
    edge += p.reset ?? 0;
    if (r < edge) return "reset";
    return undefined;
  };
}

/** A whole region down: every request signed for `region` gets `fault` (default a reset). */
export function regionDown(region: string, fault: "reset" | "hang" = "reset"): FaultRule {
  return (req) => (req.region === region ? fault : undefined);
}

/** Several rules: the first that injects something wins (each is asked in turn, async ones awaited). */
export function firstOf(...rules: (FaultRule | undefined)[]): FaultRule {
  return async (req) => {
    for (const r of rules) {
      const f = await r?.(req);
      if (f !== undefined) return f;
    }
    return undefined;
  };
}
