/**
 * `A` records — in Route 53 an alias to the load balancer — proved like CNAMEs, against real UDP
 * name servers on loopback (rehearsal/stand-ins/dns-server.ts). Route 53 answers an alias record
 * with its target's current addresses under the record's own name, so the proof is that each
 * answering server gives addresses the DR load balancer's name resolves to at that moment.
 */
import test, { type ExecutionContext } from "ava";
import { askAll, askAuthoritative, waitForAuthoritativeAnswer } from "../../runbooks/aws/authoritative-dns.ts";
import { failoverRecordResolves } from "../../runbooks/aws/preflight-checks.ts";
import type { RunContext } from "../../runbooks/lib/types.ts";
import { sampleOutputs } from "../../rehearsal/stand-ins/seeded-outputs.ts";
import { startDnsServer, type DnsAnswer } from "../../rehearsal/stand-ins/dns-server.ts";

const RECORD = "api.eventchain.com";
const PRIMARY = "eventchain-prod-alb-1.us-east-1.elb.amazonaws.com";
const DR = "eventchain-dr-alb-2.us-west-2.elb.amazonaws.com";
const ADDRESSES: Record<string, string[]> = { [PRIMARY]: ["10.0.1.10", "10.0.1.11"], [DR]: ["10.9.1.20", "10.9.1.21"] };
/** What the system resolver would say of a load balancer's name (the runbook asks it each poll). */
const resolveAddresses = async (name: string) => ADDRESSES[name] ?? [];

async function server(t: ExecutionContext, answer: (type: string) => DnsAnswer | undefined) {
  const s = await startDnsServer((name, type) => (name === RECORD ? answer(type) : undefined));
  t.teardown(() => s.close());
  return s;
}

test("an A record is asked as A: the server's addresses, sorted", async (t) => {
  const s = await server(t, (type) => ({ addresses: type === "A" ? ["10.9.1.21", "10.9.1.20"] : [], ttl: 60 }));
  t.is(await askAuthoritative(s.address, RECORD, 5000, "A"), "10.9.1.20,10.9.1.21");
  await t.throwsAsync(askAuthoritative(s.address, RECORD, 5000, "CNAME"), { code: "ENODATA" });
});

test("clients moved is proved for an A record when every answering server gives the DR balancer's addresses", async (t) => {
  let answer = ADDRESSES[PRIMARY]!;
  const a = await server(t, () => ({ addresses: answer, ttl: 2 }));
  const b = await server(t, () => ({ addresses: answer, ttl: 2 }));
  setTimeout(() => (answer = [ADDRESSES[DR]![1]!]), 1200); // Route 53 answers one of the DR addresses
  const moved = await waitForAuthoritativeAnswer({
    nameServers: [a.address, b.address],
    record: RECORD,
    recordType: "A",
    expected: DR,
    resolveAddresses,
    ttlSeconds: 2,
    boundMs: 8000,
  });
  t.is(moved.recordType, "A");
  t.is(moved.expected, DR);
  t.deepEqual(
    moved.servers.map((s) => s.answer),
    ["10.9.1.21", "10.9.1.21"],
  );
  t.true(
    a.queries.every((q) => q.type === "A"),
    "asked as A, never as CNAME",
  );
});

test("an A record still answering the primary's addresses is not taken for moved: the bound names what each said", async (t) => {
  const a = await server(t, () => ({ addresses: ADDRESSES[PRIMARY]!, ttl: 2 }));
  const error = await t.throwsAsync(
    waitForAuthoritativeAnswer({
      nameServers: [a.address],
      record: RECORD,
      recordType: "A",
      expected: DR,
      resolveAddresses,
      ttlSeconds: 2,
      boundMs: 4000,
    }),
  );
  t.regex(
    error!.message,
    new RegExp(
      `^the authoritative name servers do not all answer the addresses of ${DR.replace(/\./g, "\\.")} for ${RECORD.replace(/\./g, "\\.")} \\(A\\) within 4 s .*: ${a.address.replace(/\./g, "\\.")}: 10\\.0\\.1\\.10,10\\.0\\.1\\.11`,
    ),
  );
});

/** A preflight context whose outputs say recordType A and list `nameServers`. */
const ctxWith = (nameServers: string[]) => {
  const prod = sampleOutputs("prod");
  const outputs = {
    ...prod,
    dns: { ...prod.dns, recordType: "A" as const },
    failover: { ...prod.failover, nameServers },
  };
  const logged: string[] = [];
  const ctx = {
    outputs,
    log: { info: () => undefined, warn: (m: string) => logged.push(m) },
  } as unknown as RunContext<unknown>;
  return { ctx, outputs, logged };
};

test("the preflight proves an A record exists through the name servers, and refuses one they do not have", async (t) => {
  const has = await server(t, (type) => ({ addresses: type === "A" ? ADDRESSES[PRIMARY]! : [], ttl: 60 }));
  const ok = ctxWith([has.address]);
  t.is(await failoverRecordResolves(ok.ctx, ok.outputs.dns, "primary").check(), undefined);
  t.true(has.queries.some((q) => q.type === "A"));

  const none = await server(t, () => ({ addresses: [], ttl: 60 })); // NODATA: the name has no A record
  const gap = ctxWith([none.address]);
  t.regex(
    String(await failoverRecordResolves(gap.ctx, gap.outputs.dns, "primary").check()),
    /^does not exist: the switch steers an existing failover record and the runbooks never create one$/,
  );
  const answers = await askAll([none.address], RECORD, 5000, "A");
  t.regex(answers[0]!.error!, /ENODATA|no A record/);
});
