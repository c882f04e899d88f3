/**
 * The AWS proxy's faults, seen by the real SDK clients the runbooks use, against moto: the
 * SDK must recognise an injected throttle as throttling (and retry it), a 503 as a server
 * error, a reset as a network error, and a hang must hold until the client gives up. Rules
 * select requests by the region and service of their SigV4 scope.
 */
import test from "ava";
import { CreateTopicCommand, ListTopicsCommand, SNSClient } from "@aws-sdk/client-sns";
import { ListClustersCommand, ECSClient } from "@aws-sdk/client-ecs";
import { ListHostedZonesCommand, Route53Client } from "@aws-sdk/client-route-53";
import { ListBucketsCommand, S3Client } from "@aws-sdk/client-s3";
import { DescribeAlarmsCommand, CloudWatchClient } from "@aws-sdk/client-cloudwatch";
import { NodeHttpHandler } from "@smithy/node-http-handler";
import {
  firstOf,
  randomFaults,
  regionDown,
  startDelayProxy,
  throttled,
  unavailable,
  type DelayProxy,
  type FaultRule,
} from "../../../rehearsal/stand-ins/aws-proxy.ts";
import { useMoto } from "../../helpers/moto.ts";

const moto = useMoto(test);

async function proxy(t: import("ava").ExecutionContext, rule: FaultRule): Promise<DelayProxy> {
  const p = await startDelayProxy({ target: moto().endpoint, rule });
  t.teardown(() => p.close());
  return p;
}

/**
 * A client of the proxy. A call that should be answered gets 30 s (moto answers in tens of ms on
 * a quiet machine: far more than ten times that, so a loaded machine does not fail the test);
 * the hang test gives its own short timeout, the one it waits for.
 */
const opts = (endpoint: string, region = "us-east-1", maxAttempts = 1, timeoutMs = 30_000) => ({
  region,
  endpoint,
  maxAttempts,
  forcePathStyle: true,
  // Without throwOnRequestTimeout the current handler only warns when requestTimeout passes.
  requestHandler: new NodeHttpHandler({
    requestTimeout: timeoutMs,
    connectionTimeout: timeoutMs,
    throwOnRequestTimeout: true,
  }),
});

test("an injected throttle is throttling to the SDK in every protocol our clients speak", async (t) => {
  const p = await proxy(t, throttled);
  const calls: [string, () => Promise<unknown>][] = [
    ["query (SNS)", () => new SNSClient(opts(p.url)).send(new ListTopicsCommand({}))],
    ["json (ECS)", () => new ECSClient(opts(p.url)).send(new ListClustersCommand({}))],
    ["json 1.0 (CloudWatch)", () => new CloudWatchClient(opts(p.url)).send(new DescribeAlarmsCommand({}))],
    ["rest-xml (Route 53)", () => new Route53Client(opts(p.url)).send(new ListHostedZonesCommand({}))],
    ["s3", () => new S3Client(opts(p.url)).send(new ListBucketsCommand({}))],
  ];
  for (const [what, call] of calls) {
    const error = (await call().then(
      () => undefined,
      (e: unknown) => e,
    )) as { name?: string; $retryable?: unknown; $metadata?: { httpStatusCode?: number } } | undefined;
    t.truthy(error, `${what}: the call should fail`);
    t.regex(String(error?.name), /Throttl|SlowDown/, `${what}: ${String(error?.name)}`);
  }
});

test("the SDK's own retries get through 20% throttling, and each faulted attempt is recorded", async (t) => {
  const p = await proxy(t, randomFaults({ seed: 7, throttle: 0.2, unavailable: 0.05 }));
  const sns = new SNSClient(opts(p.url, "us-west-2", 6));
  for (let i = 0; i < 10; i++) await sns.send(new CreateTopicCommand({ Name: `faults-${i}` }));
  const listed = await sns.send(new ListTopicsCommand({}));
  t.true((listed.Topics ?? []).filter((x) => x.TopicArn?.includes(":faults-")).length >= 10);
  t.true(
    p.calls.some((c) => c.fault === "400" || c.fault === "503"),
    "with seed 7 some attempts are faulted",
  );
  t.true(p.calls.every((c) => c.region === "us-west-2"));
});

test("a region down resets only that region's requests; the other region answers", async (t) => {
  const p = await proxy(t, regionDown("us-east-1"));
  const west = await new SNSClient(opts(p.url, "us-west-2")).send(new ListTopicsCommand({}));
  t.truthy(west.$metadata.httpStatusCode);
  const east = await new SNSClient(opts(p.url, "us-east-1")).send(new ListTopicsCommand({})).then(
    () => undefined,
    (e: Error) => e,
  );
  t.truthy(east);
  t.notRegex(String(east?.name), /Throttl/);
  t.deepEqual(
    p.calls.map((c) => [c.region, c.fault]),
    [
      ["us-west-2", "passed"],
      ["us-east-1", "reset"],
    ],
  );
});

test("a hung region holds each request until the client's own timeout gives up", async (t) => {
  const p = await proxy(t, regionDown("us-east-1", "hang"));
  const error = await new SNSClient(opts(p.url, "us-east-1", 1, 1500)).send(new ListTopicsCommand({})).then(
    () => undefined,
    (e: Error) => e,
  );
  // The answer never came: what ended the call is the client's own request timeout.
  t.is(error?.name, "TimeoutError", String(error));
  t.regex(error?.message ?? "", /1500 ?ms/);
  t.deepEqual(
    p.calls.map((c) => c.fault),
    ["hang"],
  );
});

test("a 503 is a server error to the SDK, and rules compose: the first that injects wins", async (t) => {
  const p = await proxy(
    t,
    firstOf(
      (req) => (req.service === "ecs" ? unavailable(req) : undefined),
      (req) => (req.service === "sns" ? { delayMs: 200 } : undefined),
    ),
  );
  const error = (await new ECSClient(opts(p.url)).send(new ListClustersCommand({})).then(
    () => undefined,
    (e: unknown) => e,
  )) as { $metadata?: { httpStatusCode?: number } } | undefined;
  t.is(error?.$metadata?.httpStatusCode, 503);
  // The delay is the proxy's to apply (it records it); how long it took is no test's business.
  await new SNSClient(opts(p.url)).send(new ListTopicsCommand({}));
  t.deepEqual(
    p.calls.map((c) => c.fault),
    ["503", "delayed"],
  );
});

test("a lost answer: the request takes effect upstream, the client sees a network error", async (t) => {
  const p = await proxy(t, (req) => (req.action === "CreateTopic" ? "lose-answer" : undefined));
  const sns = new SNSClient(opts(p.url, "us-west-2"));
  const error = (await sns.send(new CreateTopicCommand({ Name: "lost-answer" })).then(
    () => undefined,
    (e: unknown) => e,
  )) as { code?: string } | undefined;
  t.truthy(error, "the client got no answer");
  t.is(error?.code, "ECONNRESET");
  const listed = await sns.send(new ListTopicsCommand({}));
  t.true(
    (listed.Topics ?? []).some((x) => x.TopicArn?.endsWith(":lost-answer")),
    "yet the topic was created",
  );
  t.deepEqual(
    p.calls.map((c) => c.fault),
    ["lose-answer", "passed"],
  );
});
