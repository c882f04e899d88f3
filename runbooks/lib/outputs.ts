/**
 * Loads and validates stack outputs (the contract in infra/outputs.ts).
 *
 * Sources:
 * - `--stack <name>`: `pulumi stack output --json --show-secrets=false -s <name>`.
 * - `--outputs <file.json>`: either one stack's outputs exactly as that command prints them,
 *   or an object keyed by stack name (`{ "prod": {...}, "dr": {...} }`), which is how a runbook
 *   that needs the peer stack gets both offline. With a keyed file, `--stack` picks the stack
 *   (optional when the file holds only one).
 */
import { readFileSync } from "node:fs";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { parseStackOutputs, type StackOutputs } from "../../infra/outputs.ts";
import { BadInputError } from "./errors.ts";
import type { OutputsSource } from "./journal.ts";

const execFileAsync = promisify(execFile);

const STACK_NAME = /^[A-Za-z0-9][A-Za-z0-9._/-]{0,199}$/;

export interface LoadedOutputs {
  outputs: StackOutputs;
  peer: StackOutputs | undefined;
}

/** Runs the Pulumi CLI (no shell: arguments are passed as a list). Replaceable in tests. */
export type PulumiOutputReader = (stack: string) => Promise<unknown>;

export const pulumiStackOutput: PulumiOutputReader = async (stack) => {
  let stdout: string;
  try {
    ({ stdout } = await execFileAsync("pulumi", ["stack", "output", "--json", "--show-secrets=false", "-s", stack], {
      maxBuffer: 16 * 1024 * 1024,
    }));
  } catch (error) {
    const e = error as { code?: string; stderr?: string };
    if (e.code === "ENOENT")
      throw new BadInputError(
        `cannot read outputs of stack "${stack}": the pulumi CLI is not installed; use --outputs <file.json> instead`,
      );
    throw new BadInputError(
      `cannot read outputs of stack "${stack}": ${(e.stderr ?? String(error)).trim().split("\n").slice(-2).join(" ")}`,
    );
  }
  return JSON.parse(stdout);
};

function readJson(file: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch {
    throw new BadInputError(`--outputs file "${file}" cannot be read`);
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new BadInputError(`--outputs file "${file}" is not JSON: ${(error as Error).message}`);
  }
}

function validate(raw: unknown, where: string): StackOutputs {
  try {
    return parseStackOutputs(raw, where);
  } catch (error) {
    throw new BadInputError((error as Error).message);
  }
}

function pickFromFile(doc: unknown, file: string, stack: string | undefined): { name: string; raw: unknown } {
  if (typeof doc !== "object" || doc === null || Array.isArray(doc))
    throw new BadInputError(`--outputs file "${file}" must hold a JSON object`);
  const obj = doc as Record<string, unknown>;
  if ("contractVersion" in obj) {
    const name = typeof obj.stack === "string" ? obj.stack : "(unnamed)";
    if (stack !== undefined && stack !== name)
      throw new BadInputError(`unknown stack "${stack}": --outputs file "${file}" holds only stack "${name}"`);
    return { name, raw: obj };
  }
  const names = Object.keys(obj);
  if (stack === undefined) {
    if (names.length === 1) return { name: names[0]!, raw: obj[names[0]!] };
    throw new BadInputError(
      `--outputs file "${file}" holds stacks ${names.join(", ") || "(none)"}: choose one with --stack`,
    );
  }
  if (!Object.prototype.hasOwnProperty.call(obj, stack))
    throw new BadInputError(
      `unknown stack "${stack}": --outputs file "${file}" holds ${names.join(", ") || "no stacks"}`,
    );
  return { name: stack, raw: obj[stack] };
}

export async function loadOutputs(
  source: OutputsSource,
  needsPeer: boolean,
  reader: PulumiOutputReader = pulumiStackOutput,
): Promise<LoadedOutputs> {
  if (source.stack !== undefined && !STACK_NAME.test(source.stack)) {
    throw new BadInputError(
      `invalid --stack "${source.stack}": expected a Pulumi stack name (letters, digits, ".", "_", "-", "/")`,
    );
  }
  if (source.file !== undefined) {
    const doc = readJson(source.file);
    const { name, raw } = pickFromFile(doc, source.file, source.stack);
    const outputs = validate(raw, `${source.file} (stack ${name})`);
    if (!needsPeer) return { outputs, peer: undefined };
    const { raw: peerRaw } = (() => {
      try {
        return pickFromFile(doc, source.file!, outputs.peerStack);
      } catch {
        throw new BadInputError(
          `this runbook needs the peer stack "${outputs.peerStack}" too, but --outputs file "${source.file}" does not hold it: use a file keyed by stack name ({"${outputs.stack}": ..., "${outputs.peerStack}": ...})`,
        );
      }
    })();
    return { outputs, peer: validate(peerRaw, `${source.file} (stack ${outputs.peerStack})`) };
  }
  if (source.stack === undefined)
    throw new BadInputError("no outputs source: give --stack <name> (reads Pulumi) or --outputs <file.json>");
  const outputs = validate(await reader(source.stack), `pulumi stack ${source.stack}`);
  if (!needsPeer) return { outputs, peer: undefined };
  return { outputs, peer: validate(await reader(outputs.peerStack), `pulumi stack ${outputs.peerStack}`) };
}
