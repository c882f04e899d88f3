/**
 * The tests' handle on the one AWS proxy (rehearsal/stand-ins/aws-proxy.ts), in front of moto: every
 * request is recorded in `seen`, and a rule may inject a fault. Recorded responses (AWS API
 * reference shapes, for calls moto does not emulate) are read with `fixture`.
 */
import { readFileSync } from "node:fs";
import {
  firstOf,
  startDelayProxy,
  type Fault,
  type FaultRule,
  type ProxiedRequest,
} from "../../rehearsal/stand-ins/aws-proxy.ts";
import { cloudWatchEvaluation } from "../../rehearsal/stand-ins/route53-data-plane.ts";
import { sampleFailover } from "../../rehearsal/stand-ins/seeded-outputs.ts";

export type { Fault, ProxiedRequest } from "../../rehearsal/stand-ins/aws-proxy.ts";
export type Rule = FaultRule;

export interface FaultProxy {
  endpoint: string;
  /** Requests seen, in order (faulted ones included). */
  seen: ProxiedRequest[];
  setRule(rule: Rule): void;
  close(): Promise<void>;
}

/**
 * A proxy in front of moto: `rule` first, then CloudWatch's evaluation of the seeded failover
 * switch alarm on a PutMetricData that passes (moto never evaluates alarms; a faulted write is
 * not evaluated, as in AWS).
 */
export async function startFaultProxy(upstream: string, rule: Rule = () => undefined): Promise<FaultProxy> {
  const seen: ProxiedRequest[] = [];
  let current = rule;
  const evaluation = cloudWatchEvaluation(upstream, sampleFailover().switch);
  const proxy = await startDelayProxy({
    target: upstream,
    rule: (req) => {
      seen.push(req);
      return firstOf(current, evaluation)(req);
    },
  });
  return {
    endpoint: proxy.url,
    seen,
    setRule(r) {
      current = r;
    },
    close: () => proxy.close(),
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
