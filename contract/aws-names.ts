/**
 * The names AWS's APIs refuse, as pure checks: each returns undefined for a name the API accepts,
 * or the rule it breaks (callers prefix the key and the value). Used by the stack config (a name
 * we declare) and by the runbooks' preflight (a name from the outputs, or one a runbook derives),
 * so a name that cannot work is refused before anything is created — never found late by the API.
 * Sources: Amazon S3 User Guide, "General purpose bucket naming rules"; Amazon RDS API Reference,
 * CreateDBInstance / RestoreDBInstanceToPointInTime (DBInstanceIdentifier, DBName for RDS for
 * PostgreSQL) and CreateDBSnapshot (DBSnapshotIdentifier).
 */

const S3_PREFIXES = ["xn--", "sthree-", "amzn-s3-demo-"];
const S3_SUFFIXES = ["-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"];

/** What an S3 general purpose bucket name must be. */
export const S3_BUCKET_RULE =
  "an S3 bucket name: 3 to 63 lowercase letters, digits, dots and hyphens, starting and ending with a letter or digit, no two adjacent dots, not an IP address, not starting with xn--, sthree- or amzn-s3-demo-, not ending with -s3alias, --ol-s3, .mrap, --x-s3 or --table-s3";

export function s3BucketNameProblem(name: string): string | undefined {
  const broken =
    name.length < 3 ||
    name.length > 63 ||
    !/^[a-z0-9][a-z0-9.-]*[a-z0-9]$/.test(name) ||
    name.includes("..") ||
    /^\d{1,3}(\.\d{1,3}){3}$/.test(name) ||
    S3_PREFIXES.some((p) => name.startsWith(p)) ||
    S3_SUFFIXES.some((s) => name.endsWith(s));
  return broken ? S3_BUCKET_RULE : undefined;
}

/** What an RDS DB instance identifier must be (RDS stores it in lower case). */
export const RDS_INSTANCE_ID_RULE =
  "an RDS DB instance identifier: 1 to 63 letters, digits or hyphens, starting with a letter, not ending with a hyphen, no two consecutive hyphens";

export function rdsInstanceIdentifierProblem(id: string): string | undefined {
  return /^[A-Za-z](?!.*--)[A-Za-z0-9-]{0,62}$/.test(id) && !id.endsWith("-") ? undefined : RDS_INSTANCE_ID_RULE;
}

/** What an RDS DB snapshot identifier must be. */
export const RDS_SNAPSHOT_ID_RULE =
  "an RDS DB snapshot identifier: 1 to 255 letters, digits or hyphens, starting with a letter, not ending with a hyphen, no two consecutive hyphens";

export function rdsSnapshotIdentifierProblem(id: string): string | undefined {
  return /^[A-Za-z](?!.*--)[A-Za-z0-9-]{0,254}$/.test(id) && !id.endsWith("-") ? undefined : RDS_SNAPSHOT_ID_RULE;
}

/** PostgreSQL's reserved key words (its documentation's appendix "SQL Key Words", column "reserved"). */
const POSTGRES_RESERVED = new Set(
  (
    "all analyse analyze and any array as asc asymmetric both case cast check collate column constraint create " +
    "current_catalog current_date current_role current_time current_timestamp current_user default deferrable desc " +
    "distinct do else end except false fetch for foreign from grant group having in initially intersect into lateral " +
    "leading limit localtime localtimestamp not null offset on only or order placing primary references returning " +
    "select session_user some symmetric system_user table then to trailing true union unique user using variadic " +
    "when where window with"
  ).split(" "),
);

/** What the DBName of an RDS for PostgreSQL instance must be. */
export const RDS_POSTGRES_DB_NAME_RULE =
  "an RDS for PostgreSQL database name: 1 to 63 letters, digits or underscores, starting with a letter, not a word PostgreSQL reserves";

export function rdsPostgresDbNameProblem(name: string): string | undefined {
  return /^[A-Za-z][A-Za-z0-9_]{0,62}$/.test(name) && !POSTGRES_RESERVED.has(name.toLowerCase())
    ? undefined
    : RDS_POSTGRES_DB_NAME_RULE;
}
