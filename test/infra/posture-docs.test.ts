import { readFileSync } from "node:fs";
import test from "ava";
import { FIGURES, FIGURE_IDS, useCalibration } from "../../infra/posture/figures.ts";

useCalibration(); // the page shows the figures in use: the base with the committed calibration

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

test("every documented figure names the vendor's documentation, every assumption says what should replace it, every measurement cites its runs", (t) => {
  for (const id of FIGURE_IDS) {
    const f = FIGURES[id];
    if (f.kind === "documented")
      t.regex(f.source, /https:\/\/(docs\.aws\.amazon\.com|www\.postgresql\.org\/docs)\//, id);
    else if (f.kind === "assumed") t.regex(f.source, /assumed.*replaced by|replaced by.*assumed|assumed/, id);
    else
      t.regex(
        f.source,
        /^measured: .*\b(drill|point-in-time-restore|dr-test)-\d{8}t\d{6}-[0-9a-f]{6}\b.*calibration\.json$/,
        id,
      );
  }
});
