// @ts-check
/**
 * The last line of .ci/run: `tests: N passed, N failed`, counted from the output of `npm test`.
 *
 * ava marks each passing test with ✔ and each failure (a failed test, a crashed test file) with
 * ✘, indented; when anything fails it prints only the failure count, so the marks are counted.
 * Only indented marks count: the set-up's own lines start with `setup:` or `setup| ` (never with
 * white space), so nothing it prints can be taken for a test. A non-zero exit with no failure
 * counted (a type-check or lint error stops `npm test` before ava) counts as one failure.
 *
 *   node scripts/ci/summary.mjs <file with the output of npm test> <its exit code>
 */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

/**
 * @param {string} output
 * @param {number} exitCode
 */
export function testSummary(output, exitCode) {
  const lines = output.split(/\r?\n/);
  const passed = lines.filter((l) => /^\s+✔/.test(l)).length;
  const marked = lines.filter((l) => /^\s+✘/.test(l)).length;
  const counts = [...output.matchAll(/(\d+) tests? failed/g)];
  const reported = counts.length > 0 ? Number(counts[counts.length - 1][1]) : 0;
  let failed = Math.max(reported, marked);
  if (exitCode !== 0 && failed === 0) failed = 1;
  return `tests: ${passed} passed, ${failed} failed`;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [file, code] = process.argv.slice(2);
  if (file === undefined || !/^\d+$/.test(code ?? "")) {
    process.stderr.write(
      `usage: node scripts/ci/summary.mjs <output file> <exit code> (got: ${process.argv.slice(2).join(" ")})\n`,
    );
    process.exit(2);
  }
  process.stdout.write(`${testSummary(readFileSync(file, "utf8"), Number(code))}\n`);
}
