import test from "ava";
import { masterCredentials, tlsSettings } from "../../runbooks/postgres/connection.ts";
import { BadInputError } from "../../runbooks/lib/errors.ts";

test("a connection to the stack's database verifies TLS against the CA bundle in PGSSLROOTCERT", (t) => {
  const read = (file: string) => `pem from ${file}`;
  t.deepEqual(tlsSettings({ PGSSLROOTCERT: "/etc/rds/us-east-1-bundle.pem" }, "us-east-1", read), {
    ssl: { ca: "pem from /etc/rds/us-east-1-bundle.pem", rejectUnauthorized: true },
  });
});

test("without PGSSLROOTCERT the runbook refuses and names the region's bundle", (t) => {
  const error = t.throws(() => tlsSettings({}, "us-west-2"), { instanceOf: BadInputError });
  t.regex(error!.message, /^PGSSLROOTCERT is not set/);
  t.true(error!.message.includes("https://truststore.pki.rds.amazonaws.com/us-west-2/us-west-2-bundle.pem"));
});

test("PGSSLMODE=disable is an explicit opt-out, reported rather than silent", (t) => {
  const settings = tlsSettings({ PGSSLMODE: "disable" }, "us-east-1");
  t.is(settings.ssl, undefined);
  t.regex("insecure" in settings ? settings.insecure : "", /without TLS/);
});

test("any other PGSSLMODE without a CA bundle is still refused", (t) => {
  t.throws(() => tlsSettings({ PGSSLMODE: "require" }, "us-east-1"), { instanceOf: BadInputError });
});

test("the master secret's credentials are read without ever echoing its text", (t) => {
  const arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:rds!db-1";
  t.deepEqual(masterCredentials(arn, JSON.stringify({ username: "u", password: "p", engine: "postgres" })), {
    username: "u",
    password: "p",
  });
  for (const [text, expected] of [
    ["hunter2-not-json", /is not JSON \(16 characters, not shown\)/],
    ['{"username":"hunter2-user"', /is not JSON/],
    ['["hunter2-user","hunter2-pass"]', /"username" and "password" are missing, empty or not a string/],
    ['{"username":"hunter2-user","password":42}', /"password" is missing, empty or not a string/],
    ['{"username":"","password":"hunter2-pass"}', /"username" is missing, empty or not a string/],
    [undefined, /has no SecretString \(a binary secret\?\)/],
  ] as const) {
    const error = t.throws(() => masterCredentials(arn, text));
    t.regex(error!.message, expected);
    t.true(error!.message.startsWith(`secret ${arn} `));
    t.false(error!.message.includes("hunter2"), error!.message);
  }
});
