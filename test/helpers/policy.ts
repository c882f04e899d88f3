/**
 * Calls policy-pack rules the way the Pulumi analyzer does, without the analyzer: a resource
 * or a stack of plain objects in, the list of violation messages out.
 */
import type {
  Policies,
  PolicyResource,
  ReportViolation,
  ResourceValidationArgs,
  ResourceValidationPolicy,
  StackValidationArgs,
  StackValidationPolicy,
} from "@pulumi/policy";
import { loadConfigFromFiles } from "../../infra/config/load.ts";
import { DEFAULT_RETENTION_FLOOR_DAYS, type PolicyContext } from "../../policy/rule-context.ts";

export interface FakeResource {
  type: string;
  name: string;
  props: Record<string, unknown>;
  protect?: boolean;
  /** Names of resources each property depends on (for stack rules). */
  dependsOn?: Record<string, string[]>;
}

/** The context the pack builds for `stack`, from the committed config. */
export function committedContext(stack: "prod" | "dr" = "prod"): PolicyContext {
  const config = loadConfigFromFiles(stack);
  return {
    objectives: config.objectives,
    classification: config.classification,
    role: config.role === "dr" ? "dr" : "primary",
    retentionFloorDays: { ...DEFAULT_RETENTION_FLOOR_DAYS },
  };
}

const urnOf = (r: { type: string; name: string }) => `urn:pulumi:test::eventchain-dr::${r.type}::${r.name}`;

function options(protect: boolean) {
  return {
    protect,
    ignoreChanges: [],
    aliases: [],
    additionalSecretOutputs: [],
    customTimeouts: { createSeconds: 0, updateSeconds: 0, deleteSeconds: 0 },
  };
}

function resourceArgs(r: FakeResource): ResourceValidationArgs {
  return {
    type: r.type,
    name: r.name,
    props: r.props,
    urn: urnOf(r),
    opts: options(r.protect ?? false),
    stackTags: new Map(),
    isType: () => false,
    asType: () => undefined,
    getConfig: <T extends object>() => ({}) as T,
    notApplicable: (reason?: string): never => {
      throw new Error(`notApplicable: ${reason}`);
    },
  };
}

function pick<T extends ResourceValidationPolicy | StackValidationPolicy>(all: Policies, name: string): T {
  const found = all.find((p) => p.name === name);
  if (!found) throw new Error(`no policy named ${name}; have ${all.map((p) => p.name).join(", ")}`);
  return found as T;
}

/** Violations one resource rule reports for one resource. */
export async function violations(all: Policies, name: string, resource: FakeResource): Promise<string[]> {
  const policy = pick<ResourceValidationPolicy>(all, name);
  const out: string[] = [];
  const report: ReportViolation = (message) => out.push(message);
  const validations = Array.isArray(policy.validateResource) ? policy.validateResource : [policy.validateResource!];
  for (const validate of validations) await validate(resourceArgs(resource), report);
  return out;
}

/** Violations one stack rule reports for a stack of resources. */
export async function stackViolations(all: Policies, name: string, resources: FakeResource[]): Promise<string[]> {
  const policy = pick<StackValidationPolicy>(all, name);
  const byName = new Map<string, PolicyResource>();
  for (const r of resources) {
    byName.set(r.name, {
      type: r.type,
      name: r.name,
      props: r.props,
      urn: urnOf(r),
      opts: options(r.protect ?? false),
      dependencies: [],
      propertyDependencies: {},
      isType: () => false,
      asType: () => undefined,
    });
  }
  for (const r of resources) {
    const deps = byName.get(r.name)!.propertyDependencies;
    for (const [prop, names] of Object.entries(r.dependsOn ?? {})) deps[prop] = names.map((n) => byName.get(n)!);
  }
  const out: string[] = [];
  const args: StackValidationArgs = {
    resources: [...byName.values()],
    stackTags: new Map(),
    getConfig: <T extends object>() => ({}) as T,
    notApplicable: (reason?: string): never => {
      throw new Error(`notApplicable: ${reason}`);
    },
  } as StackValidationArgs;
  await policy.validateStack(args, (message) => out.push(message));
  return out;
}
