/**
 * The one place stack config is read and validated. Components never read config: they get
 * the typed `StackConfig` (or a slice of it) from `program.ts`.
 *
 * Keys are Pulumi config keys: `aws:region` and `eventchain-dr:<name>`. Project-wide values
 * live in `Pulumi.yaml` (`config: <key>: value:`), stack values in `Pulumi.<stack>.yaml`; a
 * stack value replaces the project value of the same key as a whole, as Pulumi does.
 * Every key, its default and its range: docs/config-reference.md.
 */
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import * as pulumi from "@pulumi/pulumi";
import { parse as parseYaml, YAMLError } from "yaml";
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
import { closest, didYouMean } from "./suggest.ts";
import { maskCredentials } from "./mask.ts";
import { pairProblems, roleConflict } from "./pair.ts";

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

/** Bad config: one line per problem, each naming the key, the value and what is allowed (credentials masked). */
export class ConfigError extends Error {
  readonly problems: string[];
  constructor(stack: string | readonly [string, string], problems: string[]) {
    problems = problems.map(maskCredentials);
    super(
      `invalid config for ${typeof stack === "string" ? `stack "${stack}"` : `stacks "${stack[0]}" and "${stack[1]}"`} (${problems.length} problem${problems.length === 1 ? "" : "s"}):\n${problems.map((p) => `  - ${p}`).join("\n")}`,
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
  /** Check the fields only, not the rules between them (a pair whose roles conflict: every role rule would mislead). */
  skipCrossField?: boolean;
}

/** The namespaces a config key may have: this project's, `aws:region`, and Pulumi's own settings. */
export const NAMESPACES = [NAMESPACE, "aws", "pulumi"] as const;

/** A key under a namespace the program does not read: refused (it would be dropped), with the nearest allowed key. */
function namespaceProblem(key: string): string {
  const colon = key.indexOf(":");
  const [ns, rest] = [key.slice(0, Math.max(colon, 0)), key.slice(colon + 1)];
  const near = closest(ns, [NAMESPACE])
    ? `${NAMESPACE}:${rest}`
    : closest(ns, ["aws"]) && closest(rest, ["region"])
      ? "aws:region"
      : undefined;
  return `${key}: unknown key; expected ${NAMESPACE}:<key> (docs/config-reference.md), aws:region, or a pulumi: setting${near ? ` (did you mean "${near}"?)` : ""}`;
}

/** What zod says is expected, in the config's words (a missing mapping is named as one, with its keys). */
function allowedOf(issue: { path: PropertyKey[]; message: string; code: string }): string {
  if (!issue.message.startsWith("Invalid input")) return issue.message;
  const keys = knownKeys(issue.path);
  return keys.length ? `a mapping with ${keys.join(", ")}` : issue.message.replace(/^Invalid input: /, "");
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
    else if (!key.startsWith("pulumi:")) problems.push(namespaceProblem(key));
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
          problems.push(
            `${keyFor([...issue.path, k])}: unknown key${didYouMean(k, known)}; expected one of ${known.join(", ")}`,
          );
        for (const k of issue.keys) deleteAt(pruned, [...issue.path, k]);
      } else {
        problems.push(problem(issue.path, valueAt(input, issue.path), allowedOf(issue)));
        bad.add(keyFor(issue.path));
        deleteAt(pruned, issue.path);
      }
    }
    // Check the cross-field rules on what is left (defaults in place of the bad values), so one
    // run reports every problem; a rule about a key already reported is not repeated.
    const retry = stackConfigSchema.safeParse(pruned);
    data = retry.success ? retry.data : undefined;
    if (data && options.skipCrossField !== true) {
      const cross = [
        ...crossFieldProblems(data),
        ...(options.checkObjectives !== false ? objectiveProblems(data) : []),
      ];
      problems.push(...cross.filter((p) => !bad.has(p.slice(0, p.indexOf(": ")))));
    }
    throw new ConfigError(stack, problems);
  }
  if (options.skipCrossField !== true) {
    problems.push(...crossFieldProblems(result.data));
    if (options.checkObjectives !== false) problems.push(...objectiveProblems(result.data));
  }
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

/**
 * Both stacks of the pair validated together: the fields of each, then — unless their roles
 * conflict, which is then the one problem named instead of every role rule — the rules of each
 * and the contradictions between them (pair.ts).
 * @throws ConfigError naming every problem, each with its stack.
 */
export function validatePair(
  a: { stack: string; raw: Record<string, unknown> },
  b: { stack: string; raw: Record<string, unknown> },
  options: ValidateOptions = {},
): [StackConfig, StackConfig] {
  const conflict = roleConflict(roleOf(a), roleOf(b));
  const problems = [...conflict];
  const each = [a, b].map((side) => {
    try {
      return validateConfig(side.raw, side.stack, { ...options, skipCrossField: conflict.length > 0 });
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      problems.push(...error.problems.map((p) => `stack ${side.stack}: ${p}`));
      return undefined;
    }
  });
  const [ca, cb] = each;
  if (ca && cb && conflict.length === 0)
    problems.push(...pairProblems({ stack: a.stack, c: ca }, { stack: b.stack, c: cb }));
  if (problems.length > 0) throw new ConfigError([a.stack, b.stack], problems);
  return [ca!, cb!];
}

/**
 * Reads the running stack's config from the Pulumi runtime (`pulumi up` / `preview`), validated
 * together with its peer's committed stack file when there is one.
 */
export function loadConfig(options?: ValidateOptions): StackConfig {
  const raw: Record<string, unknown> = {};
  for (const [key, text] of Object.entries(pulumi.runtime.allConfig())) {
    try {
      raw[key] = JSON.parse(text);
    } catch {
      raw[key] = text;
    }
  }
  return withPeer({ stack: pulumi.getStack(), raw }, REPO_ROOT, options);
}

/** `own` validated with its peer (named by its peerStack) when the peer's stack file exists; alone otherwise. */
function withPeer(
  own: { stack: string; raw: Record<string, unknown> },
  projectDir: string,
  options?: ValidateOptions,
): StackConfig {
  const peerStack = own.raw[`${NAMESPACE}:peerStack`];
  if (typeof peerStack !== "string" || peerStack === own.stack || !stackFileExists(peerStack, projectDir))
    return validateConfig(own.raw, own.stack, options);
  const peer = { stack: peerStack, raw: readRawConfig(peerStack, projectDir) };
  // The stack's own problems first, as its own (unless the roles conflict: then that is the problem).
  if (roleConflict(roleOf(own), roleOf(peer)).length === 0) validateConfig(own.raw, own.stack, options);
  return validatePair(own, peer, options)[0];
}

const roleOf = (side: { stack: string; raw: Record<string, unknown> }) => ({
  stack: side.stack,
  role: side.raw[`${NAMESPACE}:role`],
});

const stackFileExists = (stack: string, projectDir: string) =>
  /^[A-Za-z0-9_.-]+$/.test(stack) && existsSync(join(projectDir, `Pulumi.${stack}.yaml`));

export const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");

/** A YAML file of the project, parsed; a parse error (bad indentation, a duplicated key) names the file, line and column. */
function readYaml(projectDir: string, file: string, stack: string): unknown {
  const text = readFileSync(join(projectDir, file), "utf8");
  try {
    return parseYaml(text);
  } catch (error) {
    if (!(error instanceof YAMLError)) throw error;
    const where = error.linePos?.[0] ? ` at line ${error.linePos[0].line}, column ${error.linePos[0].col}` : "";
    const what = error.message.split("\n")[0]!.replace(/ at line \d+, column \d+:?$/, "");
    throw new ConfigError(stack, [`${file}${where}: ${what}; expected valid YAML (each key once per mapping)`]);
  }
}

/** Project config (`Pulumi.yaml` values) merged with `Pulumi.<stack>.yaml`, unvalidated. */
export function readRawConfig(stack: string, projectDir = REPO_ROOT): Record<string, unknown> {
  if (!/^[A-Za-z0-9_.-]+$/.test(stack))
    throw new Error(`stack name ${show(stack)} is not allowed; expected letters, digits, ".", "_" or "-"`);
  const project = readYaml(projectDir, "Pulumi.yaml", stack) as { config?: Record<string, unknown> } | null;
  if (!stackFileExists(stack, projectDir))
    throw new Error(
      `no stack file Pulumi.${stack}.yaml in ${projectDir}; expected one of the committed stacks (prod, dr)`,
    );
  const stackFile = readYaml(projectDir, `Pulumi.${stack}.yaml`, stack) as { config?: Record<string, unknown> } | null;
  const raw: Record<string, unknown> = {};
  for (const [key, entry] of Object.entries(project?.config ?? {})) {
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

/**
 * Offline: the committed config of `stack`, validated together with its peer's (drill, runbooks,
 * posture report).
 */
export function loadConfigFromFiles(stack: string, projectDir = REPO_ROOT, options?: ValidateOptions): StackConfig {
  return withPeer({ stack, raw: readRawConfig(stack, projectDir) }, projectDir, options);
}
