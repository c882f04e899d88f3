/**
 * A resume is the same run: the stack outputs (and the peer's) it loads, and any runbook option
 * given again, must be those its journal recorded at the start. Anything else is refused (exit 2)
 * naming what differs — unless `--accept-changed-inputs` is given, which is logged and recorded
 * in the journal (which then carries the new inputs). A run refused before any change cannot be
 * resumed: a resume would repeat the refusal; a new run is the way on.
 */
import type { StackOutputs } from "../../contract/stack-outputs.ts";
import { BadInputError } from "./errors.ts";
import type { JournalData } from "./journal.ts";
import { shown } from "./show.ts";
import type { Logger, RawOptions } from "./types.ts";

/** How many differing paths a refusal lists (the count says how many more). */
const LISTED = 8;

/** Pure: the paths (a.b[0].c) at which two JSON values differ, each with both values. */
export function differences(
  before: unknown,
  after: unknown,
  path = "",
): { path: string; before: unknown; after: unknown }[] {
  if (Object.is(before, after)) return [];
  const bothObjects = typeof before === "object" && before !== null && typeof after === "object" && after !== null;
  if (!bothObjects || Array.isArray(before) !== Array.isArray(after)) return [{ path: path || "(all)", before, after }];
  const keys = new Set([...Object.keys(before), ...Object.keys(after)]);
  const out: { path: string; before: unknown; after: unknown }[] = [];
  for (const k of [...keys].sort()) {
    const sub = Array.isArray(before) ? `${path}[${k}]` : path ? `${path}.${k}` : k;
    out.push(...differences((before as Record<string, unknown>)[k], (after as Record<string, unknown>)[k], sub));
  }
  return out;
}

export interface ResumeInputs {
  outputs: StackOutputs;
  peer: StackOutputs | undefined;
  /** The runbook options given on this command line (undefined = not given). */
  given: RawOptions;
  /** `--accept-changed-inputs`. */
  accept: boolean;
  log: Logger;
  /** How to start a new run instead (quoted for sh). */
  newRunCommand: string;
}

/** @throws BadInputError when the resumed run was refused, or when its inputs differ (unless accepted). */
export function checkResume(data: JournalData, where: string, input: ResumeInputs): void {
  if (data.refused)
    throw new BadInputError(
      `run ${data.runId} was refused before it changed anything, so a resume would repeat the refusal: correct the input and start a new run: ${input.newRunCommand} …`,
    );
  const changed: string[] = [];
  if (data.inputs) {
    const diffs = [
      ...differences(data.inputs.outputs, input.outputs).map((d) => ({
        ...d,
        path: `outputs of ${data.inputs!.outputs.stack}: ${d.path}`,
      })),
      ...differences(data.inputs.peer ?? undefined, input.peer).map((d) => ({
        ...d,
        path: `outputs of peer ${data.inputs!.peer?.stack ?? input.peer?.stack ?? "stack"}: ${d.path}`,
      })),
    ];
    changed.push(...diffs.map((d) => `${d.path} was ${shown(d.before)}, now ${shown(d.after)}`));
  }
  for (const [name, value] of Object.entries(input.given))
    if (value !== undefined && value !== data.options[name])
      changed.push(`--${name} was ${shown(data.options[name] ?? "(not given)")}, now ${shown(value)}`);
  if (changed.length === 0) return;
  const list = changed.slice(0, LISTED).map((c) => `  - ${c}`);
  if (changed.length > LISTED) list.push(`  - … and ${changed.length - LISTED} more`);
  if (!input.accept)
    throw new BadInputError(
      `resuming run ${data.runId} with other inputs than it started with (${changed.length} difference(s)); nothing was changed:\n${list.join("\n")}\nA resume continues the same run: give the inputs it started with (its outputs file or stack as recorded in ${where}), start a new run, or, if the change is deliberate (e.g. an outputs file re-exported after a deploy), add --accept-changed-inputs (logged)`,
    );
  input.log.warn(
    `resuming run ${data.runId} with changed inputs, because of --accept-changed-inputs:\n${list.join("\n")}`,
  );
  data.inputs = { outputs: input.outputs, peer: input.peer ?? null };
  for (const [name, value] of Object.entries(input.given)) if (value !== undefined) data.options[name] = value;
  data.acceptedChanges = [...(data.acceptedChanges ?? []), { at: new Date().toISOString(), changes: changed }];
}
