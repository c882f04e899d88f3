/**
 * Application-specific expectations of verify-backup, as configuration: tables that must exist
 * and hold rows, and explicit consistency checks beyond the catalog's foreign keys. The
 * EventChain profile is the plan's (its five tables and test-backup-integrity.sh's three
 * checks). A profile applies when present: by default (`auto`) each of its checks runs where
 * both its tables exist, and nothing is required of a database that is not EventChain's; asked
 * for by name or file, its tables are required and a check whose table is missing fails.
 */
import { readFileSync } from "node:fs";
import { z } from "zod";
import { EVENTCHAIN_TABLES } from "./eventchain-tables.ts";

/** A table by schema and name, as in the catalog (unquoted). */
export interface TableRef {
  schema: string;
  table: string;
}

export interface ProfileCheck {
  /** Shown in the report, e.g. "tickets.event_id → events.id". */
  name: string;
  child: TableRef;
  childColumns: string[];
  parent: TableRef;
  parentColumns: string[];
}

export interface CheckProfile {
  name: string;
  /** Tables that must exist and hold rows (when the profile is required). */
  tables: TableRef[];
  checks: ProfileCheck[];
}

const pub = (table: string): TableRef => ({ schema: "public", table });

/** The plan's: its five tables and test-backup-integrity.sh's three checks. */
export const EVENTCHAIN_PROFILE: CheckProfile = {
  name: "eventchain",
  tables: EVENTCHAIN_TABLES.map(pub),
  checks: [
    {
      name: "tickets.event_id → events.id",
      child: pub("tickets"),
      childColumns: ["event_id"],
      parent: pub("events"),
      parentColumns: ["id"],
    },
    {
      name: "payments.user_id → users.id",
      child: pub("payments"),
      childColumns: ["user_id"],
      parent: pub("users"),
      parentColumns: ["id"],
    },
    {
      name: "events.organizer_id → organizations.id",
      child: pub("events"),
      childColumns: ["organizer_id"],
      parent: pub("organizations"),
      parentColumns: ["id"],
    },
  ],
};

/** How a profile applies: `auto` where present, `required` always, or none at all. */
export type ProfileUse = { mode: "auto" | "required"; profile: CheckProfile } | { mode: "none" };

const ident = z.string().min(1).max(63);
const tableRef = z.object({ schema: ident, table: ident }).strict();
export const profileFileSchema = z
  .object({
    name: z.string().min(1),
    tables: z.array(tableRef).default([]),
    checks: z
      .array(
        z
          .object({
            name: z.string().min(1),
            child: tableRef,
            childColumns: z.array(ident).min(1),
            parent: tableRef,
            parentColumns: z.array(ident).min(1),
          })
          .strict()
          .refine((c) => c.childColumns.length === c.parentColumns.length, {
            message: "childColumns and parentColumns must have the same length",
          }),
      )
      .default([]),
  })
  .strict();

export const PROFILE_CHOICES =
  "auto (the EventChain checks where its tables exist), eventchain (required), none, or the path of a JSON profile";

/**
 * `--profile`: `auto` (verify-backup's default), `eventchain`, `none`, or a JSON file (schema above) required.
 * @throws Error naming the value, or the file and the field that is wrong.
 */
export function parseProfileOption(value: string, read = (f: string) => readFileSync(f, "utf8")): ProfileUse {
  if (value === "auto") return { mode: "auto", profile: EVENTCHAIN_PROFILE };
  if (value === "eventchain") return { mode: "required", profile: EVENTCHAIN_PROFILE };
  if (value === "none") return { mode: "none" };
  if (!value.endsWith(".json")) throw new Error(`invalid --profile "${value}": expected ${PROFILE_CHOICES}`);
  let raw: unknown;
  try {
    raw = JSON.parse(read(value));
  } catch (error) {
    throw new Error(
      `invalid --profile "${value}": cannot read it as JSON (${(error as Error).message.split("\n")[0]})`,
      {
        cause: error,
      },
    );
  }
  const parsed = profileFileSchema.safeParse(raw);
  if (!parsed.success)
    throw new Error(
      `invalid --profile "${value}": ${parsed.error.issues.map((i) => `${i.path.join(".") || "(top)"}: ${i.message}`).join("; ")}`,
    );
  return { mode: "required", profile: parsed.data };
}
