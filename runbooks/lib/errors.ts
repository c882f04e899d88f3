/** Error kinds the engine maps to exit codes. */

/** Process exit codes of every runbook. */
export const EXIT = {
  /** Every step succeeded and the objectives were met (or do not apply). */
  succeeded: 0,
  /** A step failed; the message names it and the `--resume` command. */
  failed: 1,
  /** Bad input (arguments, outputs, refused precondition); nothing was changed. */
  badInput: 2,
  /** Every step succeeded but the achieved RTO or RPO missed the objective. */
  objectivesMissed: 3,
  /** Stopped before a destructive or traffic-moving step: no confirmation (no TTY, no `--yes`) or declined. */
  stopped: 4,
  /**
   * Every step succeeded but the report carries a caveat that needs action now — region-failover
   * and failback: the old primary is NOT fenced (its region did not answer). Comes before 3.
   */
  succeededWithCaveat: 5,
  /** Interrupted by a signal; resume with `--resume <run-id>`. */
  interrupted: 130,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** Input the runbook cannot act on. Thrown before any change is made. */
export class BadInputError extends Error {
  override name = "BadInputError";
}

/** A destructive or traffic-moving step was not confirmed. */
export class ConfirmationError extends Error {
  override name = "ConfirmationError";
  readonly stepId: string;
  constructor(message: string, stepId: string) {
    super(message);
    this.stepId = stepId;
  }
}

/** A step's run or verify threw. */
export class StepFailedError extends Error {
  override name = "StepFailedError";
  readonly stepId: string;
  override readonly cause: unknown;
  constructor(stepId: string, cause: unknown) {
    super(`step "${stepId}" failed: ${errorMessage(cause)}`);
    this.stepId = stepId;
    this.cause = cause;
  }
}

/** The run was aborted (signal) between steps. */
export class InterruptedError extends Error {
  override name = "InterruptedError";
}

/** The longest message `errorMessage` returns: one line in a report, a hint or a notification. */
export const MAX_MESSAGE_CHARS = 1000;

/** How deep `errorMessage` follows `cause` (a cause's cause …). */
const MAX_CAUSES = 3;

/** The SDK's own line appended to an answer it could not parse, and the parser's texts (they quote the body). */
const UNPARSED_ANSWER = /Deserialization error|is not valid JSON|Unexpected token/;

/**
 * One line for anything thrown, for reports, resume hints, logs and notifications: the message
 * with its lines joined by " | " (no stack trace); the HTTP status of an SDK error when the
 * message does not give it; the cause's message when the message does not already contain it
 * (`(cause: …)`, three levels at most; never a parser's SyntaxError, which quotes its input); an
 * SDK answer that could not be parsed (HTML from an endpoint that does not implement the call, a
 * proxy's page) said as such instead of the parser's text; a non-Error as itself (a string) or
 * its `message`, `name` or `code`, never as a dump of its fields. Secret-looking values are masked (`***`): the password of a URL, `password=…`,
 * `token=…`, `…Signature=…`, `"secret": "…"`, an `Authorization` or `Bearer` value, a private key.
 * At most MAX_MESSAGE_CHARS characters.
 */
export function errorMessage(error: unknown): string {
  let text: string;
  try {
    text = describe(error, 0);
  } catch {
    // (A throwing getter or toString: the message must not fail the handler that asks for it.)
    text = "an error that cannot be described";
  }
  const line = oneLine(masked(text));
  return line.length > MAX_MESSAGE_CHARS ? `${line.slice(0, MAX_MESSAGE_CHARS - 1)}…` : line;
}

interface ErrorLike {
  name?: unknown;
  message?: unknown;
  code?: unknown;
  cause?: unknown;
  errors?: unknown;
  $metadata?: { httpStatusCode?: number };
}

function describe(error: unknown, depth: number): string {
  if (typeof error === "string") return error;
  if (typeof error !== "object" || error === null) return String(error);
  const e = error as ErrorLike;
  const status = typeof e.$metadata?.httpStatusCode === "number" ? e.$metadata.httpStatusCode : undefined;
  let text = typeof e.message === "string" ? oneLine(e.message) : "";
  if (("$response" in e || "$metadata" in e) && UNPARSED_ANSWER.test(text))
    return `HTTP ${status ?? "?"} with an answer that is not the API's (does this endpoint implement the call?)`;
  if (!text && Array.isArray(e.errors) && e.errors.length > 0) {
    // An AggregateError (e.g. every address of a host refused the connection): its errors, once each.
    const each = [...new Set(e.errors.slice(0, 3).map((x) => oneLine(describe(x, depth + 1))))];
    text = each.join("; ") + (e.errors.length > 3 ? `; and ${e.errors.length - 3} more` : "");
  }
  // The SDK's "Unknown" (an error answer it could not name) says more with the error's name.
  if (/^Unknown(Error)?$/.test(text) && typeof e.name === "string" && e.name !== "Error") text = `${e.name}: ${text}`;
  if (!text) text = [e.name, e.code].filter((x) => typeof x === "string" && x).join(" ");
  if (!text) text = error instanceof Error ? "Error" : describeValue(error);
  if (status && !text.includes(String(status))) text += ` (HTTP ${status})`;
  // A parser's error quotes what it could not parse, which may be a secret ("… does not parse
  // (value not shown)", { cause }): such a cause is never added.
  if (e.cause !== undefined && e.cause !== error && !(e.cause instanceof SyntaxError) && depth < MAX_CAUSES) {
    // (Compared as they will read: a message built from errorMessage(cause) already says it.)
    const cause = oneLine(describe(e.cause, depth + 1));
    if (cause && !masked(text).includes(masked(cause))) text += ` (cause: ${cause})`;
  }
  return text;
}

/** An object thrown that is not an error: its own `toString` if it has one, else what it is (never its contents). */
function describeValue(value: object): string {
  if (Array.isArray(value)) return "a thrown array with no message";
  const own = (value as { toString?: unknown }).toString;
  return typeof own === "function" && own !== Object.prototype.toString
    ? String(value)
    : "a thrown object with no message";
}

/** The lines of `text`, trimmed and joined by " | " (empty lines dropped). */
function oneLine(text: string): string {
  return text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter(Boolean)
    .join(" | ");
}

/** A name whose value is a secret: it ends in one of these words (`PGPASSWORD`, `X-Amz-Signature`, `SecretString`; not `SecretId`). */
const SECRET_NAME = String.raw`[\w-]*(?:password|passwd|pwd|secret|secretstring|token|api[-_]?key|signature|credential)s?`;
const MASKS: [RegExp, string][] = [
  [/-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?(?:-----END [A-Z ]*PRIVATE KEY-----|$)/g, "<private key>"],
  // scheme://user:password@host
  [/\b([a-z][a-z0-9+.-]*:\/\/[^\s/:@]+:)[^\s/@]+@/gi, "$1***@"],
  [new RegExp(String.raw`\b(${SECRET_NAME})=[^\s&;,'"]+`, "gi"), "$1=***"],
  [new RegExp(String.raw`"(${SECRET_NAME})"\s*:\s*"(?:[^"\\]|\\.)*"`, "gi"), '"$1":"***"'],
  [/\b(authorization\s*[:=]\s*)(?:(?:bearer|basic|digest|token|aws4-hmac-sha256)\s+)?[^\s,;]+/gi, "$1***"],
  [/\b(bearer\s+)[A-Za-z0-9._~+/-]+=*/gi, "$1***"],
];

function masked(text: string): string {
  return MASKS.reduce((t, [pattern, replacement]) => t.replace(pattern, replacement), text);
}
