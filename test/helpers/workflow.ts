/**
 * What our deployment workflow must guarantee beyond being a valid workflow: previews with the
 * policy pack on both stacks, the posture report on PRs, `pulumi up` only on main behind an
 * environment, credentials only through OIDC role assumption. Returns one line per problem.
 */
type Step = { uses?: string; run?: string; with?: Record<string, unknown>; env?: Record<string, unknown> };
type Job = {
  if?: string;
  needs?: string | string[];
  environment?: string | { name: string };
  permissions?: Record<string, string>;
  strategy?: { matrix?: { stack?: string[]; include?: Array<{ stack: string }> } };
  steps?: Step[];
};
export type Workflow = {
  on?: Record<string, unknown>;
  permissions?: Record<string, string>;
  jobs?: Record<string, Job>;
};

const stacksOf = (job: Job): string[] =>
  job.strategy?.matrix?.stack ?? job.strategy?.matrix?.include?.map((i) => i.stack) ?? [];
const runs = (job: Job) => (job.steps ?? []).map((s) => s.run ?? "").join("\n");

export function workflowProblems(wf: Workflow, text: string): string[] {
  const out: string[] = [];
  const jobs = Object.entries(wf.jobs ?? {});
  if (!wf.on || !("pull_request" in wf.on) || !("push" in wf.on))
    out.push("the workflow must run on pull_request and on push");
  if (wf.permissions?.contents !== "read" || Object.keys(wf.permissions ?? {}).length !== 1)
    out.push("top-level permissions must be exactly contents: read");
  if (
    /aws-access-key-id|aws-secret-access-key|AWS_SECRET_ACCESS_KEY|AWS_ACCESS_KEY_ID|PULUMI_ACCESS_TOKEN|PULUMI_CONFIG_PASSPHRASE/.test(
      text,
    )
  ) {
    out.push("long-lived credentials are referenced; use OIDC role assumption only");
  }
  for (const [name, job] of jobs) {
    const assumes = (job.steps ?? []).filter((s) => s.uses?.startsWith("aws-actions/configure-aws-credentials@"));
    const usesPulumi = /\bpulumi (preview|up)\b/.test(runs(job));
    if (usesPulumi && assumes.length === 0) out.push(`job ${name} runs pulumi without assuming a role through OIDC`);
    for (const s of assumes) {
      if (!s.with?.["role-to-assume"]) out.push(`job ${name}: configure-aws-credentials without role-to-assume`);
      if (job.permissions?.["id-token"] !== "write")
        out.push(`job ${name}: assumes a role but lacks permissions id-token: write`);
    }
    for (const s of job.steps ?? []) {
      if (s.run && /\$\{\{/.test(s.run))
        out.push(`job ${name}: a run script interpolates \${{ }} directly (pass it through env)`);
    }
  }
  const previews = jobs.filter(([, j]) => /pulumi preview\b/.test(runs(j)));
  const previewed = previews.flatMap(([, j]) => stacksOf(j));
  for (const stack of ["prod", "dr"])
    if (!previewed.includes(stack)) out.push(`no pull-request preview of stack ${stack}`);
  for (const [name, j] of previews) {
    if (!/--policy-pack policy\b/.test(runs(j))) out.push(`job ${name}: pulumi preview without --policy-pack policy`);
    const commented = (j.steps ?? []).some((s) => /comment/.test(s.uses ?? "") && /preview/.test(String(s.with?.path)));
    if (!/pulumi preview\b[^\n]*\|\s*tee\b|pulumi preview\b[^\n]*\\\n\s*\|\s*tee\b/.test(runs(j)) || !commented)
      out.push(`job ${name}: pulumi preview's output is not posted as a PR comment`);
    if (commented && j.permissions?.["pull-requests"] !== "write")
      out.push(`job ${name}: comments on the pull request but lacks permissions pull-requests: write`);
    if (!/pull_request/.test(j.if ?? "")) out.push(`job ${name}: preview must run on pull requests only`);
  }
  const posture = jobs.filter(([, j]) => /npm run (--silent )?posture -- .*--markdown/.test(runs(j)));
  if (posture.length === 0) out.push("no job renders the posture report as Markdown");
  for (const [name, j] of posture) {
    if (!(j.steps ?? []).some((s) => /comment/.test(s.uses ?? "") || /gh pr comment/.test(s.run ?? "")))
      out.push(`job ${name}: the posture report is not posted as a PR comment`);
  }
  const ups = jobs.filter(([, j]) => /pulumi up\b/.test(runs(j)));
  if (ups.length === 0) out.push("no job runs pulumi up on main");
  for (const [name, j] of ups) {
    if (!j.environment) out.push(`job ${name}: pulumi up without an environment (approval gate)`);
    if (!/refs\/heads\/main/.test(j.if ?? "") || !/push/.test(j.if ?? ""))
      out.push(`job ${name}: pulumi up must run only on push to main`);
    if (!/--policy-pack policy\b/.test(runs(j))) out.push(`job ${name}: pulumi up without --policy-pack policy`);
  }
  return out;
}
