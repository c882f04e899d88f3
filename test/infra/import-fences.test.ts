import test from "ava";
import { ESLint } from "eslint";
import tseslint from "typescript-eslint";
// @ts-expect-error -- the lint config is plain JavaScript without type declarations
import { IMPORT_FENCES } from "../../eslint.config.js";

/** Lints `source` as if it were the file `path`, with the project's import fences only. */
async function fencesSay(path: string, source: string): Promise<string[]> {
  const eslint = new ESLint({
    overrideConfigFile: true,
    overrideConfig: [{ files: ["**/*.ts"], languageOptions: { parser: tseslint.parser } }, ...IMPORT_FENCES],
  });
  const [result] = await eslint.lintText(source, { filePath: path });
  return result!.messages.map((m) => `${m.ruleId}: ${m.message}`);
}

const wrongWay: [file: string, imports: string, why: RegExp][] = [
  ["runbooks/redis/export.ts", "../../rehearsal/stand-ins/redis.ts", /never imports the rehearsal/],
  ["runbooks/backup-database.ts", "../test/helpers/postgres.ts", /never imports the rehearsal or the tests/],
  ["runbooks/aws/rds.ts", "../../infra/config/load.ts", /runbooks depend on contract/],
  ["runbooks/lib/engine.ts", "../../policy/rules.ts", /runbooks depend on contract/],
  ["infra/stacks/dr.ts", "../../runbooks/lib/engine.ts", /never on runbooks/],
  ["infra/components/database.ts", "../../rehearsal/drill/run.ts", /never imports the rehearsal/],
  ["infra/config/rules.ts", "../posture/figures.ts", /config is validated from contract/],
  ["infra/config/schema.ts", "../components/kubernetes-jobs.ts", /config is validated from contract/],
  ["policy/rules.ts", "../runbooks/lib/engine.ts", /does not import runbooks/],
  ["policy/rules.ts", "../rehearsal/bench/run.ts", /never imports the rehearsal/],
  ["contract/stack-outputs.ts", "../infra/config/load.ts", /contract\/ holds pure shared facts/],
  ["contract/figures.ts", "node:fs", /does no I\/O/],
  ["runbooks/aws/outputs-mirror-reader.ts", "../../infra/posture/figures.ts", /committed stack config only/],
];

for (const [file, imported, why] of wrongWay) {
  test(`lint refuses ${file} importing ${imported}`, async (t) => {
    const messages = await fencesSay(file, `import { x } from "${imported}";\nexport const y = x;\n`);
    t.is(messages.length, 1, messages.join("\n"));
    t.regex(messages[0]!, /^no-restricted-imports: /);
    t.regex(messages[0]!, why);
  });
}

const rightWay: [file: string, imports: string][] = [
  ["runbooks/aws/rds.ts", "../../contract/stack-outputs.ts"],
  ["infra/stacks/dr.ts", "../../contract/switch.ts"],
  ["infra/config/rules.ts", "../../contract/figures.ts"],
  ["policy/rules.ts", "../infra/posture/backup-paths.ts"],
  ["contract/stack-outputs.ts", "./objectives.ts"],
  ["contract/stack-outputs.ts", "zod"],
  ["rehearsal/drill/run.ts", "../../runbooks/lib/engine.ts"],
  ["rehearsal/bench/scaling.ts", "../../infra/posture/figures.ts"],
  ["runbooks/aws/outputs-mirror-reader.ts", "../../infra/config/load.ts"],
];

for (const [file, imported] of rightWay) {
  test(`lint lets ${file} import ${imported}`, async (t) => {
    t.deepEqual(await fencesSay(file, `import { x } from "${imported}";\nexport const y = x;\n`), []);
  });
}
