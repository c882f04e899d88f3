/**
 * Proof from the DNS data plane against real UDP name servers on loopback (rehearsal/stand-ins/dns-server.ts),
 * and the bounds every call to a region that may be down gets (runbooks/aws/bounded.ts).
 */
import test, { type ExecutionContext } from "ava";
import { askAuthoritative, parseNameServer, waitForAuthoritativeAnswer } from "../../runbooks/aws/authoritative-dns.ts";
import { bounded } from "../../runbooks/aws/bounded.ts";
import { startDnsServer, type DnsAnswer } from "../../rehearsal/stand-ins/dns-server.ts";

const RECORD = "api.eventchain.com";
const PRIMARY = "eventchain-prod-alb-1.us-east-1.elb.amazonaws.com";
const DR = "eventchain-dr-alb-2.us-west-2.elb.amazonaws.com";

async function server(t: ExecutionContext, answer: () => DnsAnswer | undefined) {
  const s = await startDnsServer((name) => (name === RECORD ? answer() : undefined));
  t.teardown(() => s.close());
  return s;
}

test("a name server answers the record's CNAME, authoritatively, and NXDOMAIN for other names", async (t) => {
  const s = await server(t, () => ({ cname: DR, ttl: 60 }));
  t.is(await askAuthoritative(s.address, "API.eventchain.com.", 1000), DR);
  await t.throwsAsync(askAuthoritative(s.address, "www.eventchain.com", 1000), { code: "ENOTFOUND" });
  t.deepEqual(
    s.queries.map((q) => q.name),
    [RECORD, "www.eventchain.com"],
  );
});

test("waits until every answering name server gives the new target; a silent one is reported, not waited on", async (t) => {
  let target = PRIMARY;
  const a = await server(t, () => ({ cname: target, ttl: 60 }));
  const silent = await server(t, () => ({ cname: target, ttl: 60 }));
  silent.setSilent(true);
  setTimeout(() => (target = DR), 300);
  const moved = await waitForAuthoritativeAnswer({
    nameServers: [a.address, silent.address],
    record: RECORD,
    expected: DR,
    ttlSeconds: 60,
    boundMs: 8000,
    queryMs: 400,
  });
  t.is(moved.expected, DR);
  t.true(moved.queries >= 2, "asked again after the first answer named the primary");
  t.is(Date.parse(moved.clientsMovedBy) - Date.parse(moved.answeredAt), 60_000);
  t.deepEqual(
    moved.servers.map((s) => s.answer),
    [DR, null],
  );
  t.regex(moved.unreachable[0]!, new RegExp(`^DNS ${RECORD} CNAME @${silent.address.replace(/\./g, "\\.")}: `));
});

test("gives up at its bound naming what each name server last said", async (t) => {
  // The bound is 1.5 s and the test ends there quietly: one that did not give up would hang here.
  t.timeout(30_000);
  const a = await server(t, () => ({ cname: PRIMARY, ttl: 60 }));
  await t.throwsAsync(
    waitForAuthoritativeAnswer({
      nameServers: [a.address],
      record: RECORD,
      expected: DR,
      ttlSeconds: 60,
      boundMs: 1500,
      queryMs: 300,
    }),
    {
      message: new RegExp(
        `^the authoritative name servers do not all answer ${DR.replace(/\./g, "\\.")} for ` +
          `${RECORD.replace(/\./g, "\\.")} within 1\\.5 s \\(detection time \\+ TTL\\): ` +
          `${a.address.replace(/\./g, "\\.")}: ${PRIMARY.replace(/\./g, "\\.")}`,
      ),
    },
  );
});

test("no recorded name servers is a clear refusal, not a silent pass", async (t) => {
  await t.throwsAsync(
    waitForAuthoritativeAnswer({ nameServers: [], record: RECORD, expected: DR, ttlSeconds: 60, boundMs: 1000 }),
    { message: /^no authoritative name servers in the outputs \(failover\.nameServers\)/ },
  );
});

test("name servers are host, host:port or [ipv6]:port", (t) => {
  t.deepEqual(parseNameServer("ns-1536.awsdns-00.co.uk"), { host: "ns-1536.awsdns-00.co.uk", port: 53 });
  t.deepEqual(parseNameServer("127.0.0.1:5353"), { host: "127.0.0.1", port: 5353 });
  t.deepEqual(parseNameServer("[::1]:5353"), { host: "::1", port: 5353 });
  t.deepEqual(parseNameServer("2001:db8::1"), { host: "2001:db8::1", port: 53 });
});

test("a bounded call that never settles gives up at its bound; one that answers returns its value", async (t) => {
  // Quietly 0.3 s (the bound): a call that did not give up would never end.
  t.timeout(10_000);
  let aborted = false;
  const hung = await bounded("rds DescribeDBInstances (us-east-1)", 300, (signal) => {
    signal.addEventListener("abort", () => (aborted = true));
    return new Promise<never>(() => undefined);
  });
  t.like(hung, { ok: false, timedOut: true, error: "rds DescribeDBInstances (us-east-1): no answer within 0.3 s" });
  t.true(aborted, "the call's signal was aborted");
  t.like(await bounded("x", 1000, async () => 42), { ok: true, value: 42 });
  t.like(await bounded("x", 1000, async () => Promise.reject(new Error("connection reset"))), {
    ok: false,
    timedOut: false,
    error: "x: connection reset",
  });
});

test("a bounded call ends when the run is interrupted", async (t) => {
  const run = new AbortController();
  setTimeout(() => run.abort(new Error("SIGINT")), 100);
  // Ended by the interrupt, not by its 10 s bound: timedOut false, the interrupt's reason.
  const r = await bounded(
    "ecs UpdateService",
    10_000,
    (signal) => new Promise((_, reject) => signal.addEventListener("abort", () => reject(signal.reason))),
    run.signal,
  );
  t.like(r, { ok: false, timedOut: false, error: "ecs UpdateService: SIGINT" });
});
