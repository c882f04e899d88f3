/**
 * A small delaying HTTP proxy on loopback, in front of the AWS emulator (moto).
 *
 * moto answers every call in milliseconds and every resource is ready at once, so a runbook's
 * overhead (sequential steps that could run side by side, waits that poll too slowly) is
 * invisible against it. This proxy gives each AWS API call a latency chosen per
 * `service:Action` (e.g. `rds:RestoreDBInstanceToPointInTime` 1500 ms) and can hold a resource
 * in a not-ready state for a while after the call that creates it (e.g. DescribeDBInstances
 * says `creating` for 4 s after the restore), so the runbook's critical path becomes known and
 * its overhead measurable. It records every call it saw, with its delay, for the report.
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

export interface DelayProxyOptions {
  /** Base URL of the upstream, e.g. `http://127.0.0.1:5000`. */
  target: string;
  delays?: DelayTable;
  pending?: PendingRule[];
  /** Injected for tests; defaults to a real timer. */
  sleep?: (ms: number) => Promise<void>;
  /** Injected for tests; defaults to Date.now. */
  now?: () => number;
}

export interface CallRecord {
  key: string;
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
  close(): Promise<void>;
}

/** The service name from a SigV4 `Authorization` header's credential scope, or "unknown". */
export function serviceOf(headers: IncomingHttpHeaders): string {
  const auth = String(headers.authorization ?? "");
  const m = /Credential=[^/]+\/\d{8}\/[^/]+\/([^/]+)\/aws4_request/.exec(auth);
  return m?.[1] ?? "unknown";
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

  const server: Server = createServer(async (req, res) => {
    try {
      const at = now();
      const body = await readBody(req);
      const key = `${serviceOf(req.headers)}:${actionOf(req.method ?? "GET", req.url ?? "/", req.headers, body.toString("utf8"))}`;
      if (!firstSeen.has(key)) firstSeen.set(key, at);
      const delayMs = delayFor(delays, key);
      if (delayMs > 0) await sleep(delayMs);
      const holds = pending.filter(
        (p) => p.on === key && firstSeen.has(p.after) && at - firstSeen.get(p.after)! < p.forMs,
      );
      const headers = { ...req.headers, host: upstream.host };
      const up = request(
        { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers },
        async (upRes) => {
          const record: CallRecord = { key, at, delayMs, status: upRes.statusCode ?? 0, held: false };
          calls.push(record);
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
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
