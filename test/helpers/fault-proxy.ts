/**
 * A fault-injecting proxy in front of moto. moto never takes time and is always healthy; the
 * unhealthy, unreachable and still-running branches need injected faults. Each request is
 * classified (service and region from the SigV4 scope, action from X-Amz-Target or the query
 * body) and a rule may answer it, hold it forever, or let it through.
 */
import { createServer, type IncomingMessage, type Server } from "node:http";
import { readFileSync } from "node:fs";

export interface ProxiedRequest {
  service: string;
  region: string;
  action: string;
  body: string;
}

export type Fault = { status: number; body: string; contentType?: string } | "hang" | undefined;
export type Rule = (req: ProxiedRequest) => Fault;

export interface FaultProxy {
  endpoint: string;
  /** Requests seen, in order. */
  seen: ProxiedRequest[];
  setRule(rule: Rule): void;
  close(): Promise<void>;
}

function classify(req: IncomingMessage, body: string): ProxiedRequest {
  const auth = String(req.headers.authorization ?? "");
  const scope = /Credential=[^/]+\/\d+\/([^/]+)\/([^/]+)\//.exec(auth);
  const target = String(req.headers["x-amz-target"] ?? "");
  const query = /(?:^|&)Action=([^&]+)/.exec(body);
  const action = target ? target.split(".").pop()! : query ? decodeURIComponent(query[1]!) : `${req.method} ${req.url}`;
  return { service: scope?.[2] ?? "unknown", region: scope?.[1] ?? "unknown", action, body };
}

export async function startFaultProxy(upstream: string, rule: Rule = () => undefined): Promise<FaultProxy> {
  let current = rule;
  const seen: ProxiedRequest[] = [];
  const held = new Set<import("node:http").ServerResponse>();
  const server: Server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks);
    const info = classify(req, raw.toString("utf8"));
    seen.push(info);
    const fault = current(info);
    if (fault === "hang") {
      held.add(res);
      return;
    }
    if (fault) {
      res.writeHead(fault.status, {
        "content-type": fault.contentType ?? "text/xml",
        "x-amzn-requestid": "fault-proxy",
      });
      res.end(fault.body);
      return;
    }
    const headers = Object.fromEntries(
      Object.entries(req.headers).filter(([k]) => k !== "host" && k !== "connection"),
    ) as Record<string, string>;
    try {
      const up = await fetch(upstream + req.url, { method: req.method, headers, ...(raw.length ? { body: raw } : {}) });
      const out = Buffer.from(await up.arrayBuffer());
      const h: Record<string, string> = {};
      // A HEAD answer has no body to measure: its content-length is the object's size (S3 HeadObject).
      const dropped = [
        "transfer-encoding",
        "connection",
        "content-encoding",
        ...(req.method === "HEAD" ? [] : ["content-length"]),
      ];
      up.headers.forEach((v, k) => {
        if (!dropped.includes(k)) h[k] = v;
      });
      res.writeHead(up.status, h);
      res.end(out);
    } catch (error) {
      res.writeHead(502);
      res.end(String(error));
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    seen,
    setRule(r) {
      current = r;
    },
    async close() {
      for (const res of held) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A recorded AWS response body from test/fixtures/aws/. */
export function fixture(name: string): string {
  return readFileSync(new URL(`../fixtures/aws/${name}`, import.meta.url), "utf8");
}

export const serviceUnavailable = (): Fault => ({
  status: 503,
  body: "<ErrorResponse><Error><Type>Receiver</Type><Code>ServiceUnavailable</Code><Message>Service unavailable (injected)</Message></Error><RequestId>fault</RequestId></ErrorResponse>",
});
