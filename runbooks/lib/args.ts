/** The options every runbook shares, `--help` text, and time parsing. */
import { BadInputError } from "./errors.ts";
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
  resume: { type: "string", description: "Continue the run with this id; finished steps are not repeated" },
  "run-id": { type: "string", description: "Id for a new run (default <runbook>-<utc time>-<random>)" },
  "state-dir": { type: "string", description: "Where journals and reports go (default .runs)" },
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
    "  2 bad input, nothing changed     3 succeeded but RTO/RPO objective missed",
    "  4 stopped: confirmation needed  130 interrupted",
  );
  return lines.join("\n") + "\n";
}

const isTimestamp = (s: string) => /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/.test(s);

/** Parses an ISO 8601 time with an explicit zone; throws BadInputError naming the flag. */
export function parseTime(flag: string, value: string): Date {
  const d = new Date(value);
  if (!isTimestamp(value) || Number.isNaN(d.getTime())) {
    throw new BadInputError(
      `invalid --${flag} "${value}": expected an ISO 8601 time with a zone, e.g. 2026-01-15T14:30:00Z`,
    );
  }
  return d;
}
