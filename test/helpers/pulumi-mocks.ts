/**
 * Test helpers over `evaluateStack` (infra/offline/evaluate.ts): evaluate the committed stacks once per
 * test file, and find resources and IAM statements in what they declare.
 */
import {
  evaluateStack,
  type EvaluateOptions,
  type EvaluatedResource,
  type Evaluation,
} from "../../infra/offline/evaluate.ts";

let committed: Promise<{ dr: Evaluation; prod: Evaluation }> | undefined;

/** Both committed stacks, dr first and prod fed dr's outputs (memoized per process). */
export function committedStacks(): Promise<{ dr: Evaluation; prod: Evaluation }> {
  committed ??= (async () => {
    const dr = await evaluateStack("dr");
    const prod = await evaluateStack("prod", { peerOutputs: dr.outputs });
    return { dr, prod };
  })();
  return committed;
}

/** Evaluates `stack` with some config keys replaced (prod gets the committed dr outputs). */
export async function evaluateWith(
  stack: "prod" | "dr",
  overrides: Record<string, unknown>,
  opts: EvaluateOptions = {},
): Promise<Evaluation> {
  const peerOutputs = stack === "prod" ? (await committedStacks()).dr.outputs : undefined;
  return evaluateStack(stack, { ...opts, overrides, peerOutputs });
}

/** Every resource of `type`. */
export function ofType(evaluation: Evaluation, type: string): EvaluatedResource[] {
  return evaluation.resources.filter((r) => r.type === type);
}

/** The one resource of `type` (optionally whose name matches), or an error naming what there is. */
export function only(evaluation: Evaluation, type: string, name?: string | RegExp): EvaluatedResource {
  const found = ofType(evaluation, type).filter(
    (r) => name === undefined || (typeof name === "string" ? r.name === name : name.test(r.name)),
  );
  if (found.length !== 1) {
    throw new Error(
      `expected one ${type}${name ? ` named ${name}` : ""} in ${evaluation.stack}, found ${found.length}: ${ofType(
        evaluation,
        type,
      )
        .map((r) => r.name)
        .join(", ")}`,
    );
  }
  return found[0];
}

export interface FoundStatement {
  resource: EvaluatedResource;
  Effect: string;
  Action: string[];
  Resource: string[];
  Principal?: unknown;
  Condition?: Record<string, Record<string, unknown>>;
}

const POLICY_INPUTS: Record<string, string> = {
  "aws:iam/rolePolicy:RolePolicy": "policy",
  "aws:iam/policy:Policy": "policy",
  "aws:iam/role:Role": "assumeRolePolicy",
  "aws:s3/bucketPolicy:BucketPolicy": "policy",
  "aws:sns/topicPolicy:TopicPolicy": "policy",
  "aws:kms/key:Key": "policy",
};

const list = (v: unknown): string[] => (v === undefined ? [] : Array.isArray(v) ? v.map(String) : [String(v)]);

/** Every IAM/resource policy statement the stack declares, with the resource carrying it. */
export function statements(evaluation: Evaluation): FoundStatement[] {
  const out: FoundStatement[] = [];
  for (const resource of evaluation.resources) {
    const key = POLICY_INPUTS[resource.type];
    const text = key ? resource.inputs[key] : undefined;
    if (typeof text !== "string") continue;
    for (const s of JSON.parse(text).Statement as Array<Record<string, any>>) {
      out.push({
        resource,
        Effect: s.Effect,
        Action: list(s.Action),
        Resource: list(s.Resource),
        Principal: s.Principal,
        Condition: s.Condition,
      });
    }
  }
  return out;
}
