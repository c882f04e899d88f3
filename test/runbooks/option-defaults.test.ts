/**
 * One source for each option default: the spec's `default` (OptionSpec) is what `--help` prints
 * and what the parser applies. For every runbook, the options parsed with no flags equal those
 * parsed from the defaults `--help` prints; and a default changed in the spec changes what the
 * parser returns (a parser with a fallback of its own would not notice the change).
 */
import test from "ava";
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { usage } from "../../runbooks/lib/args.ts";
import { BadInputError } from "../../runbooks/lib/errors.ts";
import { parseWaitOptions, positiveInt, positiveNumber, withDefaults } from "../../runbooks/lib/options.ts";
import type { OptionSpec, RawOptions, Runbook } from "../../runbooks/lib/types.ts";

const runbooksDir = fileURLToPath(new URL("../../runbooks/", import.meta.url));
const runbooks = (
  await Promise.all(
    readdirSync(runbooksDir)
      .filter((f) => f.endsWith(".ts"))
      .map(async (f) => ((await import(join(runbooksDir, f))) as { runbook?: Runbook<unknown> }).runbook),
  )
).filter((r): r is Runbook<unknown> => r !== undefined);

const withDefault = (runbook: Runbook<unknown>) =>
  Object.entries(runbook.options ?? {}).filter(([, spec]) => spec.default !== undefined);

const scratch = mkdtempSync(join(tmpdir(), "option-defaults-"));
test.after.always(() => rmSync(scratch, { recursive: true, force: true }));
const pgbackrestConfig = join(scratch, "pgbackrest.conf");
writeFileSync(pgbackrestConfig, "[global]\nrepo1-path=/nonexistent\n\n[eventchain]\npg1-path=/nonexistent\n");

/**
 * What each runbook must be given to parse at all (its required flags), and which defaults that
 * parse reads (default: every one not given); point-in-time-restore once per engine.
 */
interface Case {
  given: RawOptions;
  reads?: string[];
}
const CASES: Record<string, Case[]> = {
  "point-in-time-restore": [
    { given: { time: "latest" }, reads: ["engine", "max-wait-minutes"] },
    {
      given: { time: "latest", engine: "pgbackrest", "pgbackrest-config": pgbackrestConfig },
      reads: ["max-wait-minutes", "stanza", "target-root"],
    },
  ],
  "dr-test": [{ given: { mode: "database" } }],
  "service-recovery": [{ given: { all: true } }],
  "lift-fence": [{ given: { fence: "fo1" } }],
};
const casesOf = (runbook: Runbook<unknown>) => CASES[runbook.name] ?? [{ given: {} }];
const readsIn = (runbook: Runbook<unknown>, c: Case) =>
  withDefault(runbook)
    .map(([name]) => name)
    .filter((name) => !(name in c.given) && (c.reads ?? [name]).includes(name));

/**
 * Fields of a parsed result that record whether a flag was given at all, which a default cannot
 * stand for: verify-backup's `--database` with an explicit `--backup` checks against that
 * backup's manifest, without it reads every table.
 */
const GIVEN_FLAGS: Record<string, string[]> = { "verify-backup": ["backupGiven"] };
const withoutGivenFlags = (runbook: Runbook<unknown>, parsed: unknown) =>
  Object.fromEntries(
    Object.entries(parsed as object).filter(([key]) => !(GIVEN_FLAGS[runbook.name] ?? []).includes(key)),
  );

/** Raw options as the CLI hands them to `parseOptions`: every option of the spec, given or not. */
const asCli = (spec: Record<string, OptionSpec>, given: RawOptions): RawOptions => ({
  ...Object.fromEntries(Object.keys(spec).map((name) => [name, undefined])),
  ...given,
});

const outcome = (runbook: Runbook<unknown>, raw: RawOptions): { value: unknown } | { error: string } => {
  try {
    return { value: runbook.parseOptions!(raw) };
  } catch (error) {
    return { error: (error as Error).message };
  }
};

test("every runbook with options is found, and those with defaults are the ones expected", (t) => {
  t.true(runbooks.length >= 13, runbooks.map((r) => r.name).join(", "));
  t.deepEqual(
    runbooks
      .filter((r) => withDefault(r).length > 0)
      .map((r) => r.name)
      .sort(),
    [
      "backup-code",
      "backup-database",
      "backup-redis",
      "database-recovery",
      "dr-test",
      "failback",
      "fence-primary",
      "lift-fence",
      "point-in-time-restore",
      "region-failover",
      "service-recovery",
      "verify-backup",
    ],
  );
});

for (const runbook of runbooks.filter((r) => r.options && r.parseOptions)) {
  const spec = runbook.options!;
  for (const c of casesOf(runbook)) {
    const { given } = c;
    const label = `${runbook.name}${Object.keys(given).length ? ` (${JSON.stringify(given)})` : ""}`;

    test(`${label}: no flags parse the same as the defaults --help prints`, (t) => {
      const help = usage(runbook, `npx zx runbooks/${runbook.name}.ts`).split("\n");
      const printed: RawOptions = {};
      for (const [name, option] of withDefault(runbook)) {
        const line = help.find((l) => l.startsWith(`  --${name} `));
        t.truthy(line, `--help lists --${name}`);
        t.true(line!.endsWith(` (default ${option.default})`), line);
        printed[name] = option.default;
      }
      const bare = runbook.parseOptions!(asCli(spec, given));
      const fromHelp = runbook.parseOptions!(asCli(spec, { ...printed, ...given }));
      t.deepEqual(withoutGivenFlags(runbook, fromHelp), withoutGivenFlags(runbook, bare));
    });

    test(`${label}: the parser takes each default from the spec`, (t) => {
      const baseline = outcome(runbook, asCli(spec, given));
      t.true("value" in baseline, JSON.stringify(baseline));
      for (const name of readsIn(runbook, c)) {
        const option = spec[name]!;
        const original = option.default;
        option.default = "not-the-default";
        try {
          t.notDeepEqual(
            outcome(runbook, asCli(spec, given)),
            baseline,
            `--${name}: a changed spec default changes the parsed options`,
          );
        } finally {
          option.default = original;
        }
      }
    });
  }
}

test("every default of every runbook is proved read from its spec by some case above", (t) => {
  const covered = runbooks.flatMap((r) => [
    ...new Set(casesOf(r).flatMap((c) => readsIn(r, c).map((name) => `${r.name} --${name}`))),
  ]);
  const all = runbooks.flatMap((r) => withDefault(r).map(([name]) => `${r.name} --${name}`));
  t.deepEqual(covered.sort(), all.sort());
  t.true(all.includes("point-in-time-restore --stanza"), "the engines' options are included");
});

test("withDefaults fills what was left out with the spec's default and keeps what was given", (t) => {
  const spec = {
    wait: { type: "string", description: "d", default: "45" },
    level: { type: "string", description: "d", default: "1" },
    host: { type: "string", description: "d" },
    quiet: { type: "boolean", description: "d" },
  } satisfies Record<string, OptionSpec>;
  const raw: RawOptions = { wait: undefined, level: "0", host: undefined, other: "x" };
  t.deepEqual(withDefaults(spec, raw), { wait: "45", level: "0", host: undefined, other: "x" });
  t.deepEqual(withDefaults(spec, {}), { wait: "45", level: "1" });
  t.deepEqual(withDefaults(spec, { quiet: true, wait: "" }), { wait: "", level: "1", quiet: true });
  t.deepEqual(raw, { wait: undefined, level: "0", host: undefined, other: "x" }, "the input is not changed");
  t.deepEqual(withDefaults({}, { a: "b" }), { a: "b" });
});

test("bad input is still refused naming the value and what is allowed; a missing value is named too", (t) => {
  t.throws(() => parseWaitOptions({ "max-wait-minutes": "0" }), {
    instanceOf: BadInputError,
    message: 'invalid --max-wait-minutes "0": expected a number greater than 0 and at most 1440',
  });
  t.throws(() => parseWaitOptions({ "health-attempts": "2.5" }), {
    instanceOf: BadInputError,
    message: 'invalid --health-attempts "2.5": expected a whole number from 1 to 1000',
  });
  t.deepEqual(parseWaitOptions({}), { maxWaitMinutes: 45, healthAttempts: 20 });
  t.throws(() => positiveNumber({}, "jobs", 64), {
    instanceOf: BadInputError,
    message: "missing --jobs: expected a number greater than 0 and at most 64",
  });
  t.throws(() => positiveInt({ jobs: "x" }, "jobs", 64), {
    instanceOf: BadInputError,
    message: 'invalid --jobs "x": expected a number greater than 0 and at most 64',
  });
});
