/**
 * Words that stay true: every repository path named in a comment, a doc or the README exists
 * (test/helpers/named-paths.ts says what counts as one). A renamed file leaves its old name in
 * the prose; this test names each such place.
 */
import test from "ava";
import { fileURLToPath } from "node:url";
import { missingPaths, repositoryFiles } from "../helpers/named-paths.ts";

const root = fileURLToPath(new URL("../..", import.meta.url));

test("every repository path named in comments, docs and the README exists", (t) => {
  const { tracked, files } = repositoryFiles(root);
  t.true(files.length > 100, `${files.length} files read`);
  t.deepEqual(missingPaths(files, tracked), []);
});

test("a renamed file, a path outside the repository, a bare file name and an empty glob are named", (t) => {
  const tracked = [
    "infra/stacks/dr.ts",
    "runbooks/lib/engine.ts",
    "runbooks/docs/region-failover.md",
    "docs/posture.md",
  ];
  const files = [
    {
      path: "infra/stacks/program.ts",
      text: [
        "// Builds the stacks (stack-dr.ts, infra/stacks/dr.ts); see ./infra/evaluate.ts and ./dr.ts.",
        "/** Notes: ../shared/notes/pgbackrest.md; the mechanisms in posture-*.ts; the engine runbooks/lib/engine.ts. */",
        'const url = "https://example.com/stack-gone.ts"; // a string is no comment: runbooks/lib/gone.ts',
      ].join("\n"),
    },
    {
      path: "runbooks/docs/region-failover.md",
      text: "See [posture](../../docs/posture.md), `backup-and-recovery-plan.md`, `runs/scopes/traffic/lock.json`, `.drill/<id>/`, report.md.",
    },
  ];
  t.deepEqual(missingPaths(files, tracked), [
    "infra/stacks/program.ts: stack-dr.ts",
    "infra/stacks/program.ts: ./infra/evaluate.ts",
    "infra/stacks/program.ts: ../shared/notes/pgbackrest.md",
    "infra/stacks/program.ts: posture-*.ts",
    "infra/stacks/program.ts: runbooks/lib/gone.ts",
    "runbooks/docs/region-failover.md: backup-and-recovery-plan.md",
  ]);
});
