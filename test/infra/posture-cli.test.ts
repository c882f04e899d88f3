import { readFileSync } from "node:fs";
import test from "ava";
import { Ajv } from "ajv";
import { $ } from "zx";

const schema = JSON.parse(readFileSync(new URL("../../infra/posture/posture.schema.json", import.meta.url), "utf8"));
const validate = new Ajv({ allErrors: true, strict: true }).compile(schema);
const root = new URL("../../", import.meta.url).pathname;
const posture = (...args: string[]) =>
  $({ cwd: root, nothrow: true, quiet: true })`npx tsx infra/posture/cli.ts ${args}`;

test("--json prints a report that matches the schema, and the exit status follows its verdict", async (t) => {
  const run = await posture("--stack", "prod", "--json");
  const report = JSON.parse(run.stdout);
  t.true(validate(report), JSON.stringify(validate.errors));
  t.is(report.stack, "prod");
  t.is(run.exitCode, report.verdict === "met" ? 0 : 1);
});

test("--markdown prints a PR comment with a row per system", async (t) => {
  const run = await posture("--stack", "dr", "--markdown");
  t.regex(run.stdout, /^### DR posture — stack `dr` \(primary us-east-1, DR us-west-2\)/);
  t.regex(run.stdout, /\| primary-database \| critical \| 1 h \/ 15 min \|/);
  t.regex(run.stdout, /\| rdsLogUploadInterval \| 5 minutes \| documented \|/);
});

test("an unknown stack exits 2 naming it and the stacks that exist, printing no report", async (t) => {
  const run = await posture("--stack", "staging");
  t.is(run.exitCode, 2);
  t.is(run.stdout, "");
  t.regex(run.stderr, /no stack file Pulumi\.staging\.yaml .*expected one of the committed stacks \(prod, dr\)/);
});

test("bad usage exits 2 with the usage line", async (t) => {
  const missing = await posture("--json");
  t.is(missing.exitCode, 2);
  t.regex(
    missing.stderr,
    /--stack is required \(prod or dr\)\nusage: npm run posture -- --stack <prod\|dr> \[--json \| --markdown\]/,
  );
  const both = await posture("--stack", "prod", "--json", "--markdown");
  t.is(both.exitCode, 2);
  t.regex(both.stderr, /--json and --markdown exclude each other/);
  const unknown = await posture("--stack", "prod", "--yaml");
  t.is(unknown.exitCode, 2);
  t.regex(unknown.stderr, /Unknown option '--yaml'/);
});
