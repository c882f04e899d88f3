import test from "ava";
import { ConfigError, loadConfigFromFiles, readRawConfig, validateConfig } from "../../infra/config/load.ts";
import { failoverProblems } from "../../infra/config/rules.ts";

const dr = () => structuredClone(readRawConfig("dr"));
const problemsOf = (raw: Record<string, unknown>, stack: string): string[] => {
  try {
    validateConfig(raw, stack);
  } catch (e) {
    if (e instanceof ConfigError) return e.problems;
    throw e;
  }
  return [];
};
const withDns = (raw: Record<string, unknown>, dns: Record<string, unknown>) => ({
  ...raw,
  "eventchain-dr:dns": { ...(raw["eventchain-dr:dns"] as object), ...dns },
});
const withStandby = (raw: Record<string, unknown>, backend: number, frontend: number) => {
  const s = raw["eventchain-dr:services"] as Record<string, any>;
  return {
    ...raw,
    "eventchain-dr:services": {
      ...s,
      backend: { ...s.backend, standbyCount: backend },
      frontend: { ...s.frontend, standbyCount: frontend },
    },
  };
};

test("the committed stacks declare the switch and a pilot light", (t) => {
  for (const stack of ["prod", "dr"]) {
    const c = loadConfigFromFiles(stack);
    t.is(c.dns.failoverMode, "switch", stack);
  }
  const c = loadConfigFromFiles("dr");
  t.is(c.services.backend.standbyCount, 0);
  t.is(c.services.frontend.standbyCount, 0);
  t.regex(loadConfigFromFiles("prod").services.loadBalancerArn ?? "", /^arn:aws:elasticloadbalancing:us-east-1:/);
});

test("automatic health-check failover towards a pilot light is refused with key, value and what is allowed", (t) => {
  t.deepEqual(problemsOf(withDns(dr(), { failoverMode: "automatic" }), "dr"), [
    'eventchain-dr:dns.failoverMode: "automatic" is not allowed; expected "switch": the DR services stand at 0 (services.backend.standbyCount 0, services.frontend.standbyCount 0), so an automatic failover would send clients to a region that serves nothing and has no database yet; region-failover engages the switch once the DR database and targets are healthy',
  ]);
});

test("one DR service at 0 is enough to refuse automatic failover", (t) => {
  const problems = problemsOf(withStandby(withDns(dr(), { failoverMode: "automatic" }), 3, 0), "dr");
  t.is(problems.length, 1);
  t.regex(
    problems[0]!,
    /^eventchain-dr:dns\.failoverMode: "automatic" is not allowed; expected "switch": the DR services stand at 0 \(services\.frontend\.standbyCount 0\)/,
  );
});

test("automatic failover is accepted towards DR services that stand warm, and the switch always is", (t) => {
  t.deepEqual(problemsOf(withStandby(withDns(dr(), { failoverMode: "automatic" }), 3, 2), "dr"), []);
  t.deepEqual(problemsOf(withDns(dr(), { failoverMode: "switch" }), "dr"), []);
  // The primary declares no records: its copy of the project-wide setting is not checked.
  const prod = withDns(structuredClone(readRawConfig("prod")), { failoverMode: "automatic" });
  t.deepEqual(problemsOf(prod, "prod"), []);
});

test("an unknown failover mode and a negative standby count are refused by the schema", (t) => {
  t.deepEqual(problemsOf(withDns(dr(), { failoverMode: "dns" }), "dr"), [
    'eventchain-dr:dns.failoverMode: "dns" is not allowed; expected one of switch, automatic',
  ]);
  t.deepEqual(problemsOf(withStandby(dr(), -1, 0), "dr"), [
    "eventchain-dr:services.backend.standbyCount: -1 is not allowed; expected an integer desired count from 0 to 100 while the region does not take traffic (0 = pilot light)",
  ]);
});

test("the primary role needs its load balancer's ARN for the error-rate alarm", (t) => {
  const raw = structuredClone(readRawConfig("prod"));
  const services = raw["eventchain-dr:services"] as Record<string, unknown>;
  delete services.loadBalancerArn;
  t.deepEqual(problemsOf(raw, "prod"), [
    "eventchain-dr:services.loadBalancerArn: missing; expected the ARN of the primary region's load balancer (role primary): its error-rate alarm watches it",
  ]);
});

test("the failover rule is a pure function of the parsed config", (t) => {
  const parsed = loadConfigFromFiles("dr");
  t.deepEqual(failoverProblems(parsed), []);
  t.is(failoverProblems({ ...parsed, dns: { ...parsed.dns, failoverMode: "automatic" } }).length, 1);
  t.deepEqual(failoverProblems({ ...parsed, role: "primary", dns: { ...parsed.dns, failoverMode: "automatic" } }), []);
});
