import test from "ava";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import {
  actionOf,
  delayFor,
  rewrite,
  serviceOf,
  startDelayProxy,
  validateDelays,
} from "../../../rehearsal/stand-ins/aws-proxy.ts";

const auth = (service: string) => ({
  authorization: `AWS4-HMAC-SHA256 Credential=AKID/20261124/us-west-2/${service}/aws4_request, SignedHeaders=host, Signature=x`,
});

async function upstream(t: import("ava").ExecutionContext, reply: (body: string) => string) {
  const seen: string[] = [];
  const server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks).toString();
    seen.push(body);
    res.writeHead(200, { "content-type": "text/xml" });
    res.end(reply(body));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  t.teardown(() => new Promise<void>((r) => server.close(() => r())));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen };
}

test("the service comes from the SigV4 credential scope", (t) => {
  t.is(serviceOf(auth("rds")), "rds");
  t.is(serviceOf({}), "unknown");
});

test("the action is found for query, JSON, RPC v2 and REST requests", (t) => {
  const form = { "content-type": "application/x-www-form-urlencoded; charset=utf-8" };
  t.is(actionOf("POST", "/", form, "Action=DescribeDBInstances&Version=2014-10-31"), "DescribeDBInstances");
  t.is(
    actionOf("POST", "/", { "x-amz-target": "AmazonEC2ContainerServiceV20141113.UpdateService" }, "{}"),
    "UpdateService",
  );
  t.is(actionOf("POST", "/service/GraniteServiceVersion20100801/operation/PutMetricAlarm", {}, ""), "PutMetricAlarm");
  t.is(actionOf("POST", "/2013-04-01/hostedzone/Z0123456789ABC/rrset", {}, "<xml/>"), "POST /hostedzone/{id}/rrset");
});

test("delays fall back from the action to the service to the wildcard", (t) => {
  const table = { "rds:RestoreDBInstanceToPointInTime": 1500, "rds:*": 50, "*": 5 };
  t.is(delayFor(table, "rds:RestoreDBInstanceToPointInTime"), 1500);
  t.is(delayFor(table, "rds:DescribeDBInstances"), 50);
  t.is(delayFor(table, "ecs:UpdateService"), 5);
  t.is(delayFor({}, "ecs:UpdateService"), 0);
});

test("a bad delay table is refused with the key and what is allowed", (t) => {
  t.throws(() => validateDelays({ rds: 10 }), {
    message: 'delay key "rds" is not allowed: expected "service:Action", "service:*" or "*"',
  });
  t.throws(() => validateDelays({ "*": -1 }), {
    message: 'delay for "*" is -1: expected milliseconds from 0 to 60000',
  });
});

test("a non-loopback target is refused", async (t) => {
  await t.throwsAsync(startDelayProxy({ target: "http://example.com:80" }), {
    message:
      'delay proxy target "http://example.com:80" is not allowed: expected http:// on loopback (127.0.0.1, localhost, ::1)',
  });
});

test("requests are forwarded intact after the configured delay, and recorded", async (t) => {
  const up = await upstream(t, (body) => `<ok>${body}</ok>`);
  const slept: number[] = [];
  const proxy = await startDelayProxy({
    target: up.url,
    delays: { "rds:RestoreDBInstanceToPointInTime": 1500, "*": 7 },
    sleep: async (ms) => void slept.push(ms),
  });
  t.teardown(() => proxy.close());
  const post = (service: string, action: string) =>
    fetch(proxy.url, {
      method: "POST",
      headers: { ...auth(service), "content-type": "application/x-www-form-urlencoded" },
      body: `Action=${action}&X=1`,
    }).then((r) => r.text());
  t.is(await post("rds", "RestoreDBInstanceToPointInTime"), "<ok>Action=RestoreDBInstanceToPointInTime&X=1</ok>");
  t.is(await post("ecs", "ListServices"), "<ok>Action=ListServices&X=1</ok>");
  t.deepEqual(slept, [1500, 7]);
  t.deepEqual(
    proxy.calls.map((c) => [c.key, c.delayMs, c.status]),
    [
      ["rds:RestoreDBInstanceToPointInTime", 1500, 200],
      ["ecs:ListServices", 7, 200],
    ],
  );
  t.deepEqual(up.seen, ["Action=RestoreDBInstanceToPointInTime&X=1", "Action=ListServices&X=1"]);
});

test("a pending rule holds a resource not ready for a while after the call that creates it", async (t) => {
  const up = await upstream(t, () => "<DBInstanceStatus>available</DBInstanceStatus>");
  let clock = 1000;
  const proxy = await startDelayProxy({
    target: up.url,
    pending: [
      {
        after: "rds:RestoreDBInstanceToPointInTime",
        on: "rds:DescribeDBInstances",
        forMs: 4000,
        from: ">available<",
        to: ">creating<",
      },
    ],
    now: () => clock,
  });
  t.teardown(() => proxy.close());
  const post = (action: string) =>
    fetch(proxy.url, {
      method: "POST",
      headers: { ...auth("rds"), "content-type": "application/x-www-form-urlencoded" },
      body: `Action=${action}`,
    }).then((r) => r.text());
  t.is(
    await post("DescribeDBInstances"),
    "<DBInstanceStatus>available</DBInstanceStatus>",
    "not held before the restore",
  );
  await post("RestoreDBInstanceToPointInTime");
  clock += 3999;
  t.is(await post("DescribeDBInstances"), "<DBInstanceStatus>creating</DBInstanceStatus>");
  clock += 1;
  t.is(await post("DescribeDBInstances"), "<DBInstanceStatus>available</DBInstanceStatus>");
  t.deepEqual(
    proxy.calls.map((c) => c.held),
    [false, false, true, false],
  );
  const [hold] = proxy.holds();
  t.is(hold!.readyAt, 5000);
  t.is(hold!.seenReadyAt, 5000);
  t.is(hold!.lagMs, 0);
  proxy.clear();
  t.is(proxy.calls.length, 0);
  t.is(proxy.holds()[0]!.readyAt, null);
});

test("a rewrite replaces every occurrence, literally or by regular expression", (t) => {
  t.deepEqual(rewrite("a available b available", { from: "available", to: "creating" }), {
    text: "a creating b creating",
    changed: true,
  });
  t.deepEqual(
    rewrite('{"runningCount": 3, "x": {"runningCount": 2}}', {
      from: '"runningCount":\\s*[1-9]\\d*',
      to: '"runningCount": 0',
      regex: true,
    }),
    {
      text: '{"runningCount": 0, "x": {"runningCount": 0}}',
      changed: true,
    },
  );
  t.false(rewrite("nothing", { from: "available", to: "creating" }).changed);
});
