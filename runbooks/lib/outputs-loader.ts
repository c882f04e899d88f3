/**
 * Loads and validates stack outputs (the contract in contract/stack-outputs.ts).
 *
 * Sources:
 * - `--stack <name>`: `pulumi stack output --json --show-secrets=false -s <name>` (bounded); when
 *   that fails (the state backend, or anything the CLI needs, is unreachable — e.g. down with the
 *   primary region) and the runbook gives an `OutputsMirrorSource`, the copy every `pulumi up` writes into
 *   the DR region, saying so in `notes`.
 * - `--outputs <file.json>`: either one stack's outputs exactly as that command prints them,
 *   or an object keyed by stack name (`{ "prod": {...}, "dr": {...} }`), which is how a runbook
 *   that needs the peer stack gets both offline. With a keyed file, `--stack` picks the stack
 *   (optional when the file holds only one).
 */
import { readFileSync } from "node:fs";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { parseStackOutputs, type StackOutputs } from "../../contract/stack-outputs.ts";
import { BadInputError, errorMessage } from "./errors.ts";
import { shown } from "./show.ts";
import type { OutputsSource } from "./journal.ts";

const execFileAsync = promisify(execFile);

const STACK_NAME = /^[A-Za-z0-9][A-Za-z0-9._/-]{0,199}$/;

export interface LoadedOutputs {
  outputs: StackOutputs;
  peer: StackOutputs | undefined;
  /** What the caller must tell the operator about where the outputs came from (e.g. the DR mirror). */
  notes: string[];
}

/** Runs the Pulumi CLI (no shell: arguments are passed as a list). Replaceable in tests. */
export type PulumiOutputReader = (stack: string) => Promise<unknown>;

/**
 * A copy of the stacks' outputs kept outside the state backend (the AWS one is the DR-region
 * mirror in runbooks/aws/outputs-mirror-reader.ts). `where` names the copy read, for the operator.
 */
export interface OutputsMirrorSource {
  read(stack: string): Promise<{ raw: unknown; where: string }>;
}

/** How long `pulumi stack output` may take before the backend counts as unreachable. */
export const PULUMI_OUTPUT_TIMEOUT_MS = 30_000;

export const pulumiStackOutput: PulumiOutputReader = async (stack) => {
  let stdout: string;
  try {
    ({ stdout } = await execFileAsync("pulumi", ["stack", "output", "--json", "--show-secrets=false", "-s", stack], {
      maxBuffer: 16 * 1024 * 1024,
      timeout: PULUMI_OUTPUT_TIMEOUT_MS,
    }));
  } catch (error) {
    const e = error as { code?: string; stderr?: string; killed?: boolean };
    if (e.code === "ENOENT")
      throw new BadInputError(
        `cannot read outputs of stack "${stack}": the pulumi CLI is not installed; use --outputs <file.json> instead`,
      );
    if (e.killed)
      throw new BadInputError(
        `cannot read outputs of stack "${stack}": pulumi stack output gave no answer within ${PULUMI_OUTPUT_TIMEOUT_MS / 1000} s (state backend unreachable?)`,
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
  } catch (error) {
    throw new BadInputError(
      `--outputs file ${shown(file)} cannot be read (${(error as NodeJS.ErrnoException).code ?? "unreadable"}): expected a readable JSON file of stack outputs`,
    );
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
  mirror?: OutputsMirrorSource,
): Promise<LoadedOutputs> {
  if (source.stack !== undefined && !STACK_NAME.test(source.stack)) {
    throw new BadInputError(
      `invalid --stack ${shown(source.stack)}: expected a Pulumi stack name (letters, digits, ".", "_", "-", "/")`,
    );
  }
  if (source.file !== undefined) {
    const doc = readJson(source.file);
    const { name, raw } = pickFromFile(doc, source.file, source.stack);
    const outputs = validate(raw, `${source.file} (stack ${name})`);
    if (!needsPeer) return { outputs, peer: undefined, notes: [] };
    const { raw: peerRaw } = (() => {
      try {
        return pickFromFile(doc, source.file!, outputs.peerStack);
      } catch {
        throw new BadInputError(
          `this runbook needs the peer stack "${outputs.peerStack}" too, but --outputs file "${source.file}" ` +
            `does not hold it: use a file keyed by stack name ({"${outputs.stack}": ..., "${outputs.peerStack}": ...})`,
        );
      }
    })();
    return { outputs, peer: validate(peerRaw, `${source.file} (stack ${outputs.peerStack})`), notes: [] };
  }
  if (source.stack === undefined)
    throw new BadInputError("no outputs source: give --stack <name> (reads Pulumi) or --outputs <file.json>");
  const notes: string[] = [];
  // Once Pulumi failed for one stack it is not asked again (each try can take 30 s): the peer's
  // note says so, naming the stack whose read failed, never quoting that error as its own.
  let backendDown: { stack: string; error: string } | undefined;
  const read = async (stack: string): Promise<{ raw: unknown; where: string }> => {
    if (backendDown === undefined) {
      try {
        return { raw: await reader(stack), where: `pulumi stack ${stack}` };
      } catch (error) {
        if (!mirror) throw error;
        backendDown = { stack, error: errorMessage(error) };
      }
    }
    const own = backendDown.stack === stack;
    const why = own
      ? `the state backend is unreachable (${backendDown.error})`
      : `Pulumi was not asked, since reading stack ${backendDown.stack} failed a moment ago (state backend unreachable)`;
    let copy: { raw: unknown; where: string };
    try {
      copy = await mirror!.read(stack);
    } catch (error) {
      throw new BadInputError(
        `cannot read outputs of stack "${stack}": ${own ? backendDown.error : why}; nor its copy in the DR-region mirror: ${errorMessage(error)}. Use --outputs <file.json> with a saved copy`,
      );
    }
    notes.push(`outputs of stack ${stack} come from the DR-region mirror ${copy.where}, not from Pulumi: ${why}`);
    return copy;
  };
  const own = await read(source.stack);
  const outputs = validate(own.raw, own.where);
  if (!needsPeer) return { outputs, peer: undefined, notes };
  const peer = await read(outputs.peerStack);
  return { outputs, peer: validate(peer.raw, peer.where), notes };
}
