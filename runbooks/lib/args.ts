/** The options every runbook shares, `--help` text, and time parsing. */
import { BadInputError } from "./errors.ts";
import { shown } from "./show.ts";
import type { Runbook } from "./types.ts";

/** Options every runbook accepts. */
export const COMMON_OPTIONS = {
  stack: {
    type: "string",
    description: "Pulumi stack whose outputs to act on (read with `pulumi stack output --json`)",
  },
  outputs: {
    type: "string",
    description: "JSON file of stack outputs instead of Pulumi (one stack, or keyed by stack name)",
  },
  "dry-run": { type: "boolean", description: "Print every step and call it would make; change nothing" },
  yes: { type: "boolean", description: "Confirm destructive and traffic-moving steps (for automation)" },
  force: { type: "boolean", description: "Override a safety refusal the runbook documents (e.g. healthy primary)" },
  resume: {
    type: "string",
    description:
      "Continue the run with this id; finished steps are not repeated (from another machine: add --stack or --outputs)",
  },
  "accept-changed-inputs": {
    type: "boolean",
    description:
      "With --resume: go on although the outputs or options differ from those the run started with (logged; the journal records the new ones)",
  },
  "take-over": {
    type: "boolean",
    description: "Take the run lock from a run silent for longer than 5 min (its machine is gone); logged",
  },
  "run-id": { type: "string", description: "Id for a new run (default <runbook>-<utc time>-<random>)" },
  "state-dir": { type: "string", description: "Where journals and reports go", default: ".runs" },
  "incident-at": {
    type: "string",
    description: "When the incident began (ISO 8601); base of achieved RTO/RPO (default now)",
  },
  json: { type: "boolean", description: "Machine output: NDJSON events on stdout, the last one the result" },
  help: { type: "boolean", description: "Show this help" },
} as const;

export function usage<O>(runbook: Runbook<O>, command: string): string {
  const opts = { ...COMMON_OPTIONS, ...(runbook.options ?? {}) } as Record<
    string,
    { type: string; description: string; default?: string }
  >;
  const lines = [
    `${runbook.name}: ${runbook.summary}`,
    "",
    `Usage: ${command} (--stack <name> | --outputs <file.json>) [options]`,
    "",
    "Options:",
  ];
  for (const [name, spec] of Object.entries(opts)) {
    lines.push(
      `  --${name}${spec.type === "string" ? " <value>" : ""}`.padEnd(30) +
        spec.description +
        (spec.default ? ` (default ${spec.default})` : ""),
    );
  }
  lines.push(
    "",
    "Exit codes:",
    "  0 succeeded within objectives   1 a step failed (resume with --resume <run-id>)",
    "  2 bad input or refused (another run holds the lock, a preflight gap): nothing changed",
    "  3 succeeded but RTO/RPO objective missed",
    "  4 stopped: confirmation needed  130 interrupted",
    "  5 succeeded with a caveat that needs action now (e.g. the old primary NOT fenced)",
  );
  return lines.join("\n") + "\n";
}

const TIMESTAMP = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(\.\d+)?)?(Z|([+-])(\d{2}):(\d{2}))$/;

const daysIn = (year: number, month: number) => new Date(Date.UTC(year, month, 0)).getUTCDate();

/**
 * Parses an ISO 8601 time with an explicit zone; throws BadInputError naming the flag. Fields
 * out of range are refused, never rolled over (`2026-02-30`, `2026-11-31`, `T24:00` are errors).
 */
export function parseTime(flag: string, value: string): Date {
  const refuse = (why: string) =>
    new BadInputError(
      `invalid --${flag} ${shown(value)}: ${why}expected an ISO 8601 time with a zone, e.g. 2026-01-15T14:30:00Z`,
    );
  const m = TIMESTAMP.exec(value);
  if (!m) throw refuse("");
  const [year, month, day, hour, minute] = [m[1], m[2], m[3], m[4], m[5]].map(Number) as [
    number,
    number,
    number,
    number,
    number,
  ];
  const second = m[6] === undefined ? 0 : Number(m[6]);
  if (month < 1 || month > 12) throw refuse(`month ${m[2]} does not exist; `);
  if (day < 1 || day > daysIn(year, month))
    throw refuse(`${m[1]}-${m[2]} has ${daysIn(year, month)} days, not ${m[3]}; `);
  if (hour > 23) throw refuse(`hour ${m[4]} is out of range (00-23); `);
  if (minute > 59) throw refuse(`minute ${m[5]} is out of range (00-59); `);
  if (second > 59) throw refuse(`second ${m[6]} is out of range (00-59); `);
  if (m[9] !== undefined && (Number(m[10]) > 14 || Number(m[11]) > 59))
    throw refuse(`zone offset ${m[8]} is out of range (-14:00 to +14:00); `);
  const d = new Date(value);
  if (Number.isNaN(d.getTime())) throw refuse("");
  return d;
}
