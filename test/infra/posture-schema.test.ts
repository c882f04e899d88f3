import { readFileSync } from "node:fs";
import test from "ava";
import { Ajv } from "ajv";
import { renderJson, renderMarkdown, renderTable } from "../../infra/posture/render.ts";
import { declaredPair, postureOf, without } from "../helpers/posture-fixtures.ts";

const schema = JSON.parse(readFileSync(new URL("../../infra/posture/posture.schema.json", import.meta.url), "utf8"));
const validate = new Ajv({ allErrors: true, strict: true }).compile(schema);
const reportOf = postureOf;

test("the JSON output of a met posture matches the schema", (t) => {
  const json = JSON.parse(renderJson(reportOf()));
  t.true(validate(json), JSON.stringify(validate.errors));
});

test("the JSON output of a missed posture matches the schema, with reasons", (t) => {
  const json = JSON.parse(renderJson(reportOf(without(declaredPair(), "aws:route53/healthCheck:HealthCheck"))));
  t.is(json.verdict, "missed");
  t.true(validate(json), JSON.stringify(validate.errors));
});

test("the schema rejects a 'met' scenario that carries reasons, and unknown fields", (t) => {
  const json = JSON.parse(renderJson(reportOf()));
  json.systems[0].regional.reasons = ["made up"];
  t.false(validate(json));
  const extra = JSON.parse(renderJson(reportOf()));
  extra.systems[0].surprise = true;
  t.false(validate(extra));
});

test("every figure a mechanism cites is in the report with a source", (t) => {
  const rep = reportOf();
  for (const m of rep.mechanisms) for (const f of m.figures) t.truthy(rep.figures[f]?.source, `${m.id} cites ${f}`);
});

test("the table and the Markdown name every system and the verdict", (t) => {
  const rep = reportOf(without(declaredPair(), "aws:ecs/service:Service"));
  const table = renderTable(rep);
  const md = renderMarkdown(rep);
  for (const s of rep.systems) {
    t.true(table.includes(s.system));
    t.true(md.includes(`| ${s.system} | ${s.tier} |`));
  }
  t.regex(table, /MISS their tier/);
  t.regex(md, /payments \(regional\): no DR pilot light is declared/);
  t.regex(md, /^### DR posture — stack `prod`/);
});
