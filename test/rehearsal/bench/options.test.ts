import test from "ava";
import {
  parseBenchArgs,
  parseSize,
  parseReps,
  parseOnly,
  parseName,
  formatBytes,
  SUITES,
  QUICK_SIZE,
} from "../../../rehearsal/bench/options.ts";

test("sizes parse with binary and decimal units", (t) => {
  t.is(parseSize("1GiB"), 1024 ** 3);
  t.is(parseSize("512MiB"), 512 * 1024 ** 2);
  t.is(parseSize("0.5g"), 512 * 1024 ** 2);
  t.is(parseSize("300MB"), 300e6);
  t.is(parseSize("2 gib"), 2 * 1024 ** 3);
});

test("a size that is not a size is refused with the value and the allowed units", (t) => {
  const error = t.throws(() => parseSize("lots"));
  t.is(
    error?.message,
    '--size "lots" is not a size: expected a number with an optional unit (B, KiB, MiB, GiB, KB, MB, GB, k, m, g), e.g. 1GiB',
  );
  t.throws(() => parseSize("1TiB"), { message: /--size "1TiB" is not a size/ });
});

test("a size outside the allowed range is refused with its value", (t) => {
  t.throws(() => parseSize("1MiB"), { message: '--size "1MiB" is 1 MiB: allowed between 16 MiB and 64 GiB' });
  t.throws(() => parseSize("100g"), { message: '--size "100g" is 100 GiB: allowed between 16 MiB and 64 GiB' });
});

test("repetitions must be an integer from 1 to 20", (t) => {
  t.is(parseReps("5"), 5);
  t.throws(() => parseReps("0"), { message: '--reps "0" is not allowed: expected an integer from 1 to 20' });
  t.throws(() => parseReps("2.5"), { message: '--reps "2.5" is not allowed: expected an integer from 1 to 20' });
});

test("suites are chosen by id and an unknown one is named", (t) => {
  t.deepEqual(parseOnly(undefined), [...SUITES]);
  t.deepEqual(parseOnly("floor,verify"), ["floor", "verify"]);
  t.throws(() => parseOnly("floor,speed"), {
    message: `--only "speed" is not a suite: expected one or more of ${SUITES.join(", ")}`,
  });
});

test("result names are file-name safe", (t) => {
  t.is(parseName("full-2026"), "full-2026");
  t.throws(() => parseName("../etc"), { message: /--name "\.\.\/etc" is not allowed/ });
});

test("the quick mode defaults to a tiny dataset, one repetition and no README change", (t) => {
  const o = parseBenchArgs(["--quick"], "/r");
  t.is(o.sizeBytes, QUICK_SIZE);
  t.is(o.reps, 1);
  t.is(o.name, "quick");
  t.false(o.readme);
});

test("a full run defaults to 1 GiB, three repetitions and updates the README", (t) => {
  const o = parseBenchArgs([], "/r");
  t.is(o.sizeBytes, 1024 ** 3);
  t.is(o.reps, 3);
  t.is(o.name, "full");
  t.true(o.readme);
  t.is(o.resultsDir, "/r");
  t.false(parseBenchArgs(["--results-dir", "/tmp/x"], "/r").readme);
});

test("unknown options and stray arguments are refused", (t) => {
  t.throws(() => parseBenchArgs(["--fast"], "/r"), { message: /^unknown option --fast: expected one of --quick/ });
  t.throws(() => parseBenchArgs(["now"], "/r"), {
    message: 'unexpected argument "now": the bench takes options only (see --help)',
  });
});

test("byte counts format with binary units", (t) => {
  t.is(formatBytes(1536), "1.5 KiB");
  t.is(formatBytes(1024 ** 3), "1 GiB");
});
