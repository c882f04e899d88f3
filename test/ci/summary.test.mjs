// @ts-check
/** The last line of .ci/run (scripts/ci/summary.mjs), counted from ava's marks; the set-up's output cannot add any. */
import test from "ava";
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { testSummary } from "../../scripts/ci/summary.mjs";
import { linePrefixer, OUTPUT_PREFIX } from "../../scripts/setup/run-command.mjs";

const AVA_PASSING = `
  ✔ setup › plan › with everything in place nothing is installed
  ✔ runbooks › engine › a step that throws stops the run (120ms)
  ─

  2 tests passed
`;
const AVA_FAILING = `
  ✔ runbooks › engine › a step that throws stops the run
  ✘ [fail]: runbooks › drill › the drill recovers every ticket committed up to T
  ✘ infra › stacks.test.ts exited with a non-zero exit code: 1
  ─

  1 test failed
`;

/**
 * What the set-up writes for an installer whose own output is indented and has marks in it.
 * @param {string} installerOutput
 */
function throughSetup(installerOutput) {
  let text = "setup: installing the npm packages (npm ci): node_modules/ is missing\nsetup: $ npm ci\n";
  const p = linePrefixer(OUTPUT_PREFIX, (line) => (text += line));
  p.push(installerOutput);
  p.end();
  return text;
}

test("passing tests are counted from their marks", (t) => {
  t.is(testSummary(AVA_PASSING, 0), "tests: 2 passed, 0 failed");
});

test("failures are the larger of the failure marks and ava's failure count", (t) => {
  t.is(testSummary(AVA_FAILING, 1), "tests: 1 passed, 2 failed");
  t.is(testSummary("  ✔ a\n\n  3 tests failed\n", 1), "tests: 1 passed, 3 failed");
});

test("a non-zero exit before ava (type-check or lint error) counts as one failure", (t) => {
  t.is(
    testSummary("src/x.ts(1,1): error TS2322: Type 'string' is not assignable to type 'number'.\n", 2),
    "tests: 0 passed, 1 failed",
  );
});

test("installer output with its own indented marks adds none once the set-up has prefixed it", (t) => {
  const installer =
    "  ✔ resolved 495 packages\n  ✘ optional dependency skipped\r  ✔ done\npartial line without newline";
  const output = throughSetup(installer) + AVA_PASSING;
  t.is(testSummary(output, 0), "tests: 2 passed, 0 failed");
  // Without the prefix the same lines would have been counted.
  t.is(testSummary(installer + "\n" + AVA_PASSING, 0), "tests: 3 passed, 1 failed");
  for (const line of throughSetup(installer).trimEnd().split("\n")) t.regex(line, /^setup[:|] /);
});

test("the prefixer keeps a line split across chunks whole", (t) => {
  const lines = /** @type {string[]} */ ([]);
  const p = linePrefixer("setup| ", (line) => lines.push(line));
  p.push("Collecting mo");
  p.push("to\nInstalling\r\n");
  p.end();
  t.deepEqual(lines, ["setup| Collecting moto\n", "setup| Installing\n"]);
});

test("the command line form prints exactly one summary line", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "ci-summary-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, "out.txt"), AVA_FAILING);
  const script = fileURLToPath(new URL("../../scripts/ci/summary.mjs", import.meta.url));
  const r = await promisify(execFile)(process.execPath, [script, join(dir, "out.txt"), "1"]);
  t.is(r.stdout, "tests: 1 passed, 2 failed\n");
});
