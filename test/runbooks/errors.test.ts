/**
 * errorMessage: one line for anything thrown (reports, resume hints, notifications), whatever the
 * SDK or a library throws, and nothing secret-looking in it — not from the message, not from a
 * cause, not from a thrown object's fields.
 */
import test from "ava";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { ECSClient, ListClustersCommand } from "@aws-sdk/client-ecs";
import { RDSClient, DescribeDBInstancesCommand } from "@aws-sdk/client-rds";
import { errorMessage, MAX_MESSAGE_CHARS, StepFailedError } from "../../runbooks/lib/errors.ts";
import { parseGitToken } from "../../runbooks/platform/code-bundle.ts";

const oneLine = (s: string) => !/[\r\n]/.test(s);

test("a multi-line message is one line: its lines trimmed and joined, empty ones dropped, no stack trace", (t) => {
  const e = new Error('relation "tickets" does not exist\n  DETAIL: dropped\r\n\n  HINT: restore it first\n');
  t.is(errorMessage(e), 'relation "tickets" does not exist | DETAIL: dropped | HINT: restore it first');
  t.notRegex(errorMessage(e), /\bat /);
});

test("an SDK error gets its HTTP status when the message lacks it, once", (t) => {
  const e = Object.assign(new Error("The specified bucket does not exist"), {
    name: "NoSuchBucket",
    $metadata: { httpStatusCode: 404 },
  });
  t.is(errorMessage(e), "The specified bucket does not exist (HTTP 404)");
  const said = Object.assign(new Error("answered 503 Slow Down"), { $metadata: { httpStatusCode: 503 } });
  t.is(errorMessage(said), "answered 503 Slow Down");
});

test("an answer the SDK cannot parse, or cannot name, is one line saying so (real SDK clients)", async (t) => {
  // An endpoint that does not implement the API: an HTML page, over several lines.
  const server = createServer((_req, res) => {
    res.writeHead(404, { "content-type": "text/html" });
    res.end("<html>\n<body>Not Found</body>\n</html>\n");
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  t.teardown(() => server.close());
  const config = {
    region: "us-west-2",
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    credentials: { accessKeyId: "testing", secretAccessKey: "testing" },
    maxAttempts: 1,
  };
  const json = await t.throwsAsync(new ECSClient(config).send(new ListClustersCommand({})));
  t.regex(json.message, /\n/, "the SDK's own message spans lines");
  t.is(errorMessage(json), "HTTP 404 with an answer that is not the API's (does this endpoint implement the call?)");
  const xml = await t.throwsAsync(new RDSClient(config).send(new DescribeDBInstancesCommand({})));
  t.is(errorMessage(xml), "NotFound: Unknown (HTTP 404)");
});

test("a parse error that is not an SDK answer keeps its own text", (t) => {
  let thrown: unknown;
  try {
    JSON.parse("{ nope");
  } catch (error) {
    thrown = error;
  }
  t.regex(errorMessage(thrown), /JSON/);
  t.notRegex(errorMessage(thrown), /not the API's/);
});

test("an error with a cause: the cause's message is added unless the message says it already", (t) => {
  const reset = new Error("connect ECONNREFUSED 127.0.0.1:9");
  t.is(
    errorMessage(new TypeError("fetch failed", { cause: reset })),
    "fetch failed (cause: connect ECONNREFUSED 127.0.0.1:9)",
  );
  t.is(
    errorMessage(new Error(`checking whether it is already done: ${errorMessage(reset)}`, { cause: reset })),
    "checking whether it is already done: connect ECONNREFUSED 127.0.0.1:9",
  );
  t.is(errorMessage(new StepFailedError("restore", reset)), 'step "restore" failed: connect ECONNREFUSED 127.0.0.1:9');
  // A multi-line cause is one line too; a chain stops after three causes; a cycle ends.
  const deep = new Error("1", {
    cause: new Error("2", { cause: new Error("3\nthree", { cause: new Error("4", { cause: new Error("5") }) }) }),
  });
  t.is(errorMessage(deep), "1 (cause: 2 (cause: 3 | three (cause: 4)))");
  const a = new Error("a");
  const b = new Error("b", { cause: a });
  (a as { cause?: unknown }).cause = b;
  t.true(errorMessage(a).startsWith("a (cause: b"));
  t.true(oneLine(errorMessage(a)));
});

test("non-Error values: a string as is, a value as text, an object by its message, name or code, never its fields", (t) => {
  t.is(errorMessage("boom\nagain"), "boom | again");
  t.is(errorMessage(42), "42");
  t.is(errorMessage(undefined), "undefined");
  t.is(errorMessage(null), "null");
  t.is(errorMessage(Symbol("s")), "Symbol(s)");
  t.is(errorMessage({ message: "throttled", code: "Throttling" }), "throttled");
  t.is(errorMessage({ code: "ECONNRESET" }), "ECONNRESET");
  const fields = { host: "db.internal", password: "hunter2", token: "ghp_0123456789" };
  t.is(errorMessage(fields), "a thrown object with no message");
  t.is(errorMessage(["x", "hunter2"]), "a thrown array with no message");
  t.is(errorMessage({ toString: () => "custom description" }), "custom description");
  // Every address of a host refused: an AggregateError with no message of its own.
  const all = new AggregateError([
    new Error("connect ECONNREFUSED ::1:5432"),
    new Error("connect ECONNREFUSED 127.0.0.1:5432"),
    new Error("connect ECONNREFUSED ::1:5432"),
  ]);
  t.is(errorMessage(all), "connect ECONNREFUSED ::1:5432; connect ECONNREFUSED 127.0.0.1:5432");
  t.is(errorMessage(new Error("")), "Error");
});

test("secret-looking values are masked, wherever they come from", (t) => {
  const cases: [unknown, string, RegExp][] = [
    [
      new Error("connect to postgres://app:s3cr3t-pw@db:5432/eventchain failed"),
      "s3cr3t-pw",
      /postgres:\/\/app:\*\*\*@db:5432/,
    ],
    [new Error("pg_dump failed: PGPASSWORD=hunter2 pg_dump -h db"), "hunter2", /PGPASSWORD=\*\*\* pg_dump/],
    [
      new Error("GET https://b.s3.amazonaws.com/k?X-Amz-Security-Token=FQoGZXIvYXdz&X-Amz-Signature=9f86d08 failed"),
      "FQoGZXIvYXdz",
      /X-Amz-Security-Token=\*\*\*&X-Amz-Signature=\*\*\* failed/,
    ],
    [
      new Error('unexpected answer {"SecretString":"{\\"password\\":\\"pw1\\"}","Name":"app"}'),
      "pw1",
      /"SecretString":"\*\*\*","Name":"app"/,
    ],
    [new Error("401 for Authorization: Bearer eyJhbGciOi.payload.sig"), "eyJhbGciOi", /Authorization: \*\*\*/],
    [
      new Error("bad key\n-----BEGIN RSA PRIVATE KEY-----\nMIIEow\n-----END RSA PRIVATE KEY-----\nend"),
      "MIIEow",
      /bad key \| <private key> \| end/,
    ],
    // From a cause, too.
    [
      new Error("repository unreachable", {
        cause: new Error("clone https://x-access-token:ghp_9z8y@github.com/e/e.git"),
      }),
      "ghp_9z8y",
      /x-access-token:\*\*\*@github\.com/,
    ],
  ];
  for (const [error, secret, expected] of cases) {
    const m = errorMessage(error);
    t.false(m.includes(secret), m);
    t.regex(m, expected);
  }
  // Names of secrets are not secrets: ARNs and prose stay readable.
  const arn = "arn:aws:secretsmanager:us-west-2:123456789012:secret:eventchain-dr-app-AbCdEf";
  t.is(
    errorMessage(new Error(`SecretId=${arn}: is scheduled for deletion`)),
    `SecretId=${arn}: is scheduled for deletion`,
  );
  t.is(errorMessage(new Error(`connection secret ${arn}: does not exist`)), `connection secret ${arn}: does not exist`);
});

test("a parser's error is never added as a cause: it quotes the value it could not parse", (t) => {
  const error = t.throws(() => parseGitToken('{"username": "bot", "token": "ghp_s3cretvalue" oops}', "github-token"));
  t.true(error.cause instanceof SyntaxError);
  t.regex(String((error.cause as Error).message), /ghp_s3cretvalue|JSON/);
  t.is(errorMessage(error), "secret github-token looks like JSON but does not parse (value not shown)");
});

test("a very long message is cut to one bounded line", (t) => {
  const m = errorMessage(new Error(`waiter: ${JSON.stringify({ observedResponses: "x".repeat(5000) })}`));
  t.is(m.length, MAX_MESSAGE_CHARS);
  t.true(m.endsWith("…"));
});
