import { readFileSync } from "node:fs";
import test from "ava";
import { FIGURES, FIGURE_IDS } from "../../infra/posture/figures.ts";

const docs = readFileSync(new URL("../../docs/posture.md", import.meta.url), "utf8");

test("docs/posture.md lists every figure of the model with its value, kind and source", (t) => {
  for (const id of FIGURE_IDS) {
    const f = FIGURES[id];
    const row = docs.split("\n").find((line) => line.startsWith(`| \`${id}\` |`));
    t.truthy(row, `no row for ${id}`);
    t.true(row!.includes(`| ${f.value} ${f.unit} | ${f.kind} |`), `${id}: value or kind differs from the code`);
    t.true(row!.includes(f.source.replace(/\|/g, "\\|")), `${id}: source differs from the code`);
  }
});

test("every documented figure names a URL, and every assumption says what should replace it", (t) => {
  for (const id of FIGURE_IDS) {
    const f = FIGURES[id];
    if (f.kind === "documented") t.regex(f.source, /https:\/\/docs\.aws\.amazon\.com\//, id);
    else t.regex(f.source, /assumed/, id);
  }
});
