/**
 * The one place stack config is read and validated. Components never read config: they get
 * the typed `StackConfig` (or a slice of it) from `program.ts`.
 *
 * Keys are Pulumi config keys: `aws:region` and `eventchain-dr:<name>`. Project-wide values
 * live in `Pulumi.yaml` (`config: <key>: value:`), stack values in `Pulumi.<stack>.yaml`; a
 * stack value replaces the project value of the same key as a whole, as Pulumi does.
 * Every key, its default and its range: docs/config-reference.md.
 */
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import * as pulumi from "@pulumi/pulumi";
import { parse as parseYaml } from "yaml";
import { stackConfigSchema } from "./schema.ts";
import {
  crossFieldProblems,
  keyFor,
  NAMESPACE,
  objectiveProblems,
  objectLockDaysOf,
  type Parsed,
  problem,
  show,
} from "./rules.ts";
import type { Classification, Objectives } from "../../contract/objectives.ts";

export { crossFieldProblems, keyFor, NAMESPACE, objectiveProblems, problem } from "./rules.ts";

export type StackConfig = Omit<Parsed, "objectives" | "classification" | "backup"> & {
  stack: string;
  objectives: Objectives;
  classification: Classification;
  /** `objectLockDays` resolved: the configured value or the longest prefix retention. */
  backup: Omit<Parsed["backup"], "objectLockDays"> & { objectLockDays: number };
};
export type Role = StackConfig["role"];
export type DatabaseConfig = StackConfig["database"];
export type BackupConfig = StackConfig["backup"];
export type ScheduleConfig = StackConfig["schedules"];
export type ReplicationRule = StackConfig["replication"]["rules"][number];
export type DnsConfig = StackConfig["dns"];
export type ServicesConfig = StackConfig["services"];
export type KubernetesConfig = StackConfig["kubernetes"];

/** Bad config: one line per problem, each naming the key, the value and what is allowed. */
export class ConfigError extends Error {
  readonly problems: string[];
  constructor(stack: string, problems: string[]) {
    super(
      `invalid config for stack "${stack}" (${problems.length} problem${problems.length === 1 ? "" : "s"}):\n${problems.map((p) => `  - ${p}`).join("\n")}`,
    );
    this.name = "ConfigError";
    this.problems = problems;
  }
}

export interface ValidateOptions {
  /**
   * Check that every objective can be met by its declared mechanism (default true). The
   * posture report turns this off to evaluate, and report on, a config that misses them.
   */
  checkObjectives?: boolean;
}

function valueAt(root: unknown, path: ReadonlyArray<PropertyKey>): unknown {
  let here = root;
  for (const part of path) {
    if (here === null || typeof here !== "object") return undefined;
    here = (here as Record<PropertyKey, unknown>)[part];
  }
  return here;
}

/**
 * Validates raw config (keys as in the YAML files: `aws:region`, `eventchain-dr:<name>`).
 * @throws ConfigError with one message per problem; nothing is registered before this returns.
 */
export function validateConfig(
  raw: Record<string, unknown>,
  stack: string,
  options: ValidateOptions = {},
): StackConfig {
  const problems: string[] = [];
  const input: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(raw)) {
    if (key === "aws:region") input.region = value;
    else if (key.startsWith(`${NAMESPACE}:`)) input[key.slice(NAMESPACE.length + 1)] = value;
  }
  const result = stackConfigSchema.safeParse(input);
  let data: Parsed | undefined = result.success ? result.data : undefined;
  if (!result.success) {
    const bad = new Set<string>();
    const pruned = structuredClone(input);
    for (const issue of result.error.issues) {
      if (issue.code === "unrecognized_keys") {
        const known = knownKeys(issue.path);
        for (const k of issue.keys)
          problems.push(`${keyFor([...issue.path, k])}: unknown key; expected one of ${known.join(", ")}`);
        for (const k of issue.keys) deleteAt(pruned, [...issue.path, k]);
      } else {
        problems.push(problem(issue.path, valueAt(input, issue.path), issue.message));
        bad.add(keyFor(issue.path));
        deleteAt(pruned, issue.path);
      }
    }
    // Check the cross-field rules on what is left (defaults in place of the bad values), so one
    // run reports every problem; a rule about a key already reported is not repeated.
    const retry = stackConfigSchema.safeParse(pruned);
    data = retry.success ? retry.data : undefined;
    if (data) {
      const cross = [
        ...crossFieldProblems(data),
        ...(options.checkObjectives !== false ? objectiveProblems(data) : []),
      ];
      problems.push(...cross.filter((p) => !bad.has(p.slice(0, p.indexOf(": ")))));
    }
    throw new ConfigError(stack, problems);
  }
  problems.push(...crossFieldProblems(result.data));
  if (options.checkObjectives !== false) problems.push(...objectiveProblems(result.data));
  if (problems.length > 0) throw new ConfigError(stack, problems);
  data = result.data;
  return {
    ...data,
    stack,
    objectives: data.objectives as Objectives,
    classification: data.classification as Classification,
    backup: { ...data.backup, objectLockDays: objectLockDaysOf(data.backup) },
  };
}

function deleteAt(root: unknown, path: ReadonlyArray<PropertyKey>): void {
  const parent = valueAt(root, path.slice(0, -1));
  if (parent !== null && typeof parent === "object")
    delete (parent as Record<PropertyKey, unknown>)[path[path.length - 1]];
}

/** The keys the schema allows at `path` (for "unknown key" messages). */
export function knownKeys(path: ReadonlyArray<PropertyKey>): string[] {
  let node: any = stackConfigSchema;
  const unwrap = () => {
    while (node?._zod?.def && ["default", "prefault", "optional", "nullable"].includes(node._zod.def.type))
      node = node._zod.def.innerType;
  };
  unwrap();
  for (const part of path) {
    if (node?._zod?.def?.type === "object") node = node._zod.def.shape[part as string];
    else if (node?._zod?.def?.type === "array") node = node._zod.def.element;
    else return [];
    unwrap();
  }
  return node?._zod?.def?.type === "object" ? Object.keys(node._zod.def.shape) : [];
}

/** Reads the running stack's config from the Pulumi runtime (`pulumi up` / `preview`). */
export function loadConfig(options?: ValidateOptions): StackConfig {
  const raw: Record<string, unknown> = {};
  for (const [key, text] of Object.entries(pulumi.runtime.allConfig())) {
    try {
      raw[key] = JSON.parse(text);
    } catch {
      raw[key] = text;
    }
  }
  return validateConfig(raw, pulumi.getStack(), options);
}

export const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");

/** Project config (`Pulumi.yaml` values) merged with `Pulumi.<stack>.yaml`, unvalidated. */
export function readRawConfig(stack: string, projectDir = REPO_ROOT): Record<string, unknown> {
  if (!/^[A-Za-z0-9_.-]+$/.test(stack))
    throw new Error(`stack name ${show(stack)} is not allowed; expected letters, digits, ".", "_" or "-"`);
  const project = parseYaml(readFileSync(join(projectDir, "Pulumi.yaml"), "utf8")) as {
    config?: Record<string, unknown>;
  };
  let stackFile: { config?: Record<string, unknown> } | null;
  try {
    stackFile = parseYaml(readFileSync(join(projectDir, `Pulumi.${stack}.yaml`), "utf8"));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT")
      throw new Error(
        `no stack file Pulumi.${stack}.yaml in ${projectDir}; expected one of the committed stacks (prod, dr)`,
        { cause: error },
      );
    throw error;
  }
  const raw: Record<string, unknown> = {};
  for (const [key, entry] of Object.entries(project.config ?? {})) {
    const full = key.includes(":") ? key : `${NAMESPACE}:${key}`;
    raw[full] =
      entry !== null && typeof entry === "object" && "value" in entry
        ? (entry as { value: unknown }).value
        : (entry as { default?: unknown })?.default;
  }
  for (const [key, value] of Object.entries(stackFile?.config ?? {})) {
    raw[key.includes(":") ? key : `${NAMESPACE}:${key}`] = value;
  }
  return raw;
}

/** Offline: the committed config of `stack`, validated (drill, runbooks, posture report). */
export function loadConfigFromFiles(stack: string, projectDir = REPO_ROOT, options?: ValidateOptions): StackConfig {
  return validateConfig(readRawConfig(stack, projectDir), stack, options);
}
