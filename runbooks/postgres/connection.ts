/**
 * Where a backup runbook connects: `--connection outputs` (the stack's database: address, port
 * and name from the outputs, user and password from the RDS-managed master secret in Secrets
 * Manager, over TLS verified against `PGSSLROOTCERT`, the RDS CA bundle) or `--connection env` (the standard libpq
 * variables PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE: a scratch server, the drill).
 * Credentials are never options, never logged, never written to the journal.
 */
import { readFileSync } from "node:fs";
import { GetSecretValueCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import type { PgConnection } from "./cluster.ts";
import { BadInputError } from "../lib/errors.ts";
import type { RawOptions, RunContext } from "../lib/types.ts";

export const CONNECTION_MODES = ["outputs", "env"] as const;
export type ConnectionMode = (typeof CONNECTION_MODES)[number];

/** `--connection`, its default already applied from the runbook's spec (`withDefaults`). */
export function parseConnectionMode(raw: RawOptions): ConnectionMode {
  const v = raw.connection;
  const expected = `one of ${CONNECTION_MODES.join(", ")}`;
  if (v === undefined) throw new BadInputError(`missing --connection: expected ${expected}`);
  if (typeof v !== "string" || !(CONNECTION_MODES as readonly string[]).includes(v)) {
    throw new BadInputError(`invalid --connection "${String(v)}": expected ${expected}`);
  }
  return v as ConnectionMode;
}

/** Connection from the libpq environment; @throws BadInputError naming the missing variable. */
export function connectionFromEnv(env: NodeJS.ProcessEnv, database?: string): PgConnection {
  const host = env.PGHOST;
  if (!host)
    throw new BadInputError(
      "--connection env needs PGHOST (and PGPORT, PGUSER, PGPASSWORD as needed) in the environment: PGHOST is not set",
    );
  const port = Number(env.PGPORT ?? 5432);
  if (!Number.isInteger(port) || port <= 0 || port > 65535)
    throw new BadInputError(`invalid PGPORT "${env.PGPORT}": expected a port number 1-65535`);
  return {
    host,
    port,
    user: env.PGUSER ?? "postgres",
    password: env.PGPASSWORD ?? "",
    database: database ?? env.PGDATABASE ?? "postgres",
  };
}

export type TlsSettings = { ssl: { ca: string; rejectUnauthorized: true } } | { ssl?: undefined; insecure: string };

/**
 * TLS for a connection to the stack's database. The database forces TLS (`rds.force_ssl`), and
 * the client verifies the server against `PGSSLROOTCERT`; without it the runbook refuses, naming
 * the bundle to fetch. `PGSSLMODE=disable` is accepted only as an explicit opt-out (a local
 * emulation of the stack, as in the tests) and is reported as a warning.
 * @throws BadInputError naming PGSSLROOTCERT when neither is set.
 */
export function tlsSettings(
  env: NodeJS.ProcessEnv,
  region: string,
  read: (file: string) => string = (f) => readFileSync(f, "utf8"),
): TlsSettings {
  const caFile = env.PGSSLROOTCERT;
  if (caFile) return { ssl: { ca: read(caFile), rejectUnauthorized: true } };
  if (env.PGSSLMODE === "disable")
    return {
      insecure: "PGSSLMODE=disable: connecting to the database without TLS (acceptable only for a local emulation)",
    };
  throw new BadInputError(
    `PGSSLROOTCERT is not set: --connection outputs connects over TLS verified against the RDS CA bundle; ` +
      `download https://truststore.pki.rds.amazonaws.com/${region}/${region}-bundle.pem and set PGSSLROOTCERT to its path`,
  );
}

/**
 * Pure: user name and password from the RDS-managed master secret's text. Every error says what
 * is wrong with the secret and never echoes any of its text: not `JSON.parse`'s message (which
 * quotes the input), not the value of a field.
 * @throws Error naming the secret's ARN and the form expected.
 */
export function masterCredentials(
  secretArn: string,
  secretString: string | undefined,
): { username: string; password: string } {
  const expected = `expected the RDS-managed master secret: JSON with string fields "username" and "password"`;
  if (secretString === undefined)
    throw new Error(`secret ${secretArn} has no SecretString (a binary secret?): ${expected}`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(secretString);
  } catch {
    throw new Error(`secret ${secretArn} is not JSON (${secretString.length} characters, not shown): ${expected}`);
  }
  const fields =
    parsed && typeof parsed === "object" && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : {};
  const bad = ["username", "password"].filter((k) => typeof fields[k] !== "string" || fields[k] === "");
  if (bad.length)
    throw new Error(
      `secret ${secretArn} is JSON but ${bad.map((k) => `"${k}"`).join(" and ")} ${bad.length > 1 ? "are" : "is"} missing, empty or not a string: ${expected}`,
    );
  return { username: fields.username as string, password: fields.password as string };
}

/** Resolves the connection for `mode`; `database` overrides the database name. */
export async function resolveConnection(
  ctx: RunContext<unknown>,
  mode: ConnectionMode,
  database?: string,
): Promise<PgConnection & { ssl?: { ca: string; rejectUnauthorized: true } }> {
  if (mode === "env") return connectionFromEnv(process.env, database);
  const db = ctx.outputs.database;
  if (!db.address)
    throw new BadInputError(
      `stack ${ctx.outputs.stack} has no running database (database.address is null): expected the primary stack, or --connection env`,
    );
  if (!db.masterSecretArn)
    throw new BadInputError(
      `stack ${ctx.outputs.stack} exports no database.masterSecretArn: expected the RDS-managed master secret, or --connection env`,
    );
  const tls = tlsSettings(process.env, ctx.outputs.region);
  if (tls.ssl === undefined) ctx.log.warn(tls.insecure);
  const secret = await ctx
    .aws(SecretsManagerClient, ctx.outputs.region)
    .send(new GetSecretValueCommand({ SecretId: db.masterSecretArn }));
  const credentials = masterCredentials(db.masterSecretArn, secret.SecretString);
  return {
    host: db.address,
    port: db.port,
    user: credentials.username,
    password: credentials.password,
    database: database ?? db.dbName,
    ...(tls.ssl ? { ssl: tls.ssl } : {}),
  };
}
