import { readFileSync } from "node:fs";
import test from "ava";
import { validateWorkflow } from "@action-validator/core";
import { parse } from "yaml";
import { workflowProblems, type Workflow } from "../helpers/workflow.ts";

const path = new URL("../../.github/workflows/preview.yml", import.meta.url);
const text = readFileSync(path, "utf8");
const workflow = parse(text) as Workflow;

test("the preview workflow is valid against the GitHub Actions schema", (t) => {
  t.deepEqual(validateWorkflow(text).errors, []);
});

test("the validator rejects a workflow with a job missing runs-on", (t) => {
  const broken = "on: push\njobs:\n  a:\n    steps:\n      - run: echo hi\n";
  t.not(validateWorkflow(broken).errors.length, 0);
});

test("the preview workflow meets our deployment rules", (t) => {
  t.deepEqual(workflowProblems(workflow, text), []);
});

test("the deploy order is dr then prod, each behind its own environment", (t) => {
  const jobs = workflow.jobs!;
  t.is(jobs["up-prod"].needs, "up-dr");
  t.truthy(jobs["up-dr"].environment);
  t.truthy(jobs["up-prod"].environment);
});

test("static AWS keys in the workflow are reported", (t) => {
  const withKeys = text.replace(
    "role-to-assume: ${{ vars.AWS_PREVIEW_ROLE_ARN }}",
    "aws-access-key-id: ${{ secrets.AWS_ACCESS_KEY_ID }}",
  );
  const problems = workflowProblems(parse(withKeys) as Workflow, withKeys);
  t.true(problems.includes("long-lived credentials are referenced; use OIDC role assumption only"));
  t.true(problems.includes("job preview: configure-aws-credentials without role-to-assume"));
});

test("a preview without the policy pack, or an ungated up, is reported", (t) => {
  const mutated = structuredClone(workflow);
  const preview = mutated.jobs!.preview.steps!.find((s) => s.run?.includes("pulumi preview"))!;
  preview.run = preview.run!.replace(" --policy-pack policy", "");
  delete mutated.jobs!["up-prod"].environment;
  delete mutated.jobs!["preview"].permissions!["id-token"];
  t.deepEqual(workflowProblems(mutated, text), [
    "job preview: assumes a role but lacks permissions id-token: write",
    "job preview: pulumi preview without --policy-pack policy",
    "job up-prod: pulumi up without an environment (approval gate)",
  ]);
});

test("interpolating an expression inside a run script is reported", (t) => {
  const mutated = structuredClone(workflow);
  mutated.jobs!.posture.steps!.push({ run: 'echo "${{ github.head_ref }}"' });
  t.deepEqual(workflowProblems(mutated, text), [
    "job posture: a run script interpolates ${{ }} directly (pass it through env)",
  ]);
});

test("main builds the backup-jobs image and pushes it to the stacks' ECR repository through OIDC", async (t) => {
  const { loadConfigFromFiles } = await import("../../infra/config/load.ts");
  const job = workflow.jobs!.image as unknown as {
    if: string;
    needs: string;
    environment: string;
    permissions: Record<string, string>;
    env: Record<string, string>;
    steps: { uses?: string; run?: string; with?: Record<string, string> }[];
  };
  t.regex(job.if, /github\.event_name == 'push' && github\.ref == 'refs\/heads\/main'/);
  t.is(job.needs, "test", "only a tested commit is built");
  t.truthy(job.environment);
  t.is(job.permissions["id-token"], "write");
  t.is(job.env.REPOSITORY, loadConfigFromFiles("prod").logicalBackups.repository, "the repository the stacks run from");
  const aws = job.steps.find((s) => s.uses?.startsWith("aws-actions/configure-aws-credentials@"))!;
  t.is(aws.with!["aws-region"], loadConfigFromFiles("prod").region, "pushed in the primary region; ECR replicates it");
  const script = job.steps.map((s) => s.run ?? "").join("\n");
  t.regex(script, /docker build --pull --tag "\$REGISTRY\/\$REPOSITORY:\$SHA" \./);
  t.regex(script, /docker push "\$REGISTRY\/\$REPOSITORY:stable"/);
  t.is(loadConfigFromFiles("prod").logicalBackups.imageTag, "stable", "the tag the jobs run is the one pushed");
});

test("pulumi preview's own output is posted on the pull request beside the posture report", (t) => {
  const preview = workflow.jobs!.preview!;
  const script = preview.steps!.map((s) => s.run ?? "").join("\n");
  t.regex(script, /pulumi preview --stack "\$STACK" --policy-pack policy .*2>&1 \\\n\s*\| tee "preview-\$STACK\.txt"/);
  t.regex(script, /echo "exit=\$\{PIPESTATUS\[0\]\}"/, "the preview's exit code, not tee's");
  const comment = preview.steps!.find((s) => s.uses?.startsWith("marocchino/sticky-pull-request-comment@"));
  t.is(comment?.with?.path, "preview-${{ matrix.stack }}.md");
  t.is(comment?.with?.header, "preview-${{ matrix.stack }}", "one comment per stack, updated on each push");
  const mutated = structuredClone(workflow);
  mutated.jobs!.preview!.steps = mutated.jobs!.preview!.steps!.filter((s) => !s.uses?.includes("comment"));
  t.deepEqual(workflowProblems(mutated, text), ["job preview: pulumi preview's output is not posted as a PR comment"]);
  const noPermission = structuredClone(workflow);
  delete noPermission.jobs!.preview!.permissions!["pull-requests"];
  t.deepEqual(workflowProblems(noPermission, text), [
    "job preview: comments on the pull request but lacks permissions pull-requests: write",
  ]);
});
