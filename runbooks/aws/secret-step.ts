/** Step factory: point the application's connection secret at a database. */
import { GetSecretValueCommand, PutSecretValueCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { sendIdempotent } from "../lib/aws.ts";
import type { PlannedAction, RunContext, Step, StepRef, StepOutputs } from "../lib/types.ts";

/** Parses the app connection secret (JSON with host, port, dbname, …). */
export async function readConnectionSecret(sm: SecretsManagerClient, arn: string): Promise<Record<string, unknown>> {
  const res = await sm.send(new GetSecretValueCommand({ SecretId: arn }));
  try {
    const v = JSON.parse(res.SecretString ?? "{}");
    if (typeof v !== "object" || v === null) throw new Error("not an object");
    return v as Record<string, unknown>;
  } catch {
    throw new Error(`connection secret ${arn} is not a JSON object (value not shown)`);
  }
}

/**
 * Points the application's connection secret at a database (host/port; other keys kept).
 * The secret holds no password (RDS manages that one); values are still never logged.
 */
export function pointSecretStep<O>(p: {
  id: string;
  title: string;
  dependsOn: readonly StepRef<any>[];
  movesTraffic?: boolean;
  secret: (ctx: RunContext<O>) => { arn: string; region: string };
  database: (ctx: RunContext<O>) => { host: string; port: number } | undefined;
  after?: (ctx: RunContext<O>) => Promise<StepOutputs>;
  /** Planned actions of `after`, for `--dry-run` and the confirmation prompt. */
  describeAfter?: (ctx: RunContext<O>) => PlannedAction[];
}): Step<O> {
  const current = async (ctx: RunContext<O>) => {
    const s = p.secret(ctx);
    return readConnectionSecret(ctx.aws(SecretsManagerClient, s.region), s.arn);
  };
  return {
    id: p.id,
    title: p.title,
    ...(p.movesTraffic ? { movesTraffic: true } : {}),
    dependsOn: p.dependsOn,
    describe: (ctx) => [
      {
        kind: "aws",
        action: `secretsmanager:PutSecretValue (${p.secret(ctx).region})`,
        detail: {
          SecretId: p.secret(ctx).arn,
          set: {
            host: p.database(ctx)?.host ?? "<restored instance address>",
            port: p.database(ctx)?.port ?? "<port>",
          },
        },
      },
      ...(p.describeAfter?.(ctx) ?? []),
    ],
    async isDone(ctx) {
      const db = p.database(ctx);
      const v = await current(ctx);
      if (!db || v.host !== db.host || Number(v.port) !== db.port) return false;
      // Started before in this run and not finished: `after` may not have happened; run again (the secret is not rewritten).
      if (p.after && ctx.startedBefore) return false;
      return { host: db.host, port: db.port };
    },
    async run(ctx) {
      const db = p.database(ctx);
      if (!db) throw new Error("no database address to point the application at");
      const s = p.secret(ctx);
      const v = await current(ctx);
      const pointed = v.host === db.host && Number(v.port) === db.port;
      // Already pointing there (a run stopped before `after` finished): only `after` is left to do.
      if (!pointed) {
        await sendIdempotent(
          ctx.aws(SecretsManagerClient, s.region),
          new PutSecretValueCommand({
            SecretId: s.arn,
            SecretString: JSON.stringify({ ...v, host: db.host, port: db.port }),
          }),
          async () => ((await current(ctx)).host === db.host ? {} : undefined),
        );
      }
      const extra = p.after ? await p.after(ctx) : {};
      return {
        secret: s.arn,
        host: db.host,
        port: db.port,
        previousHost: typeof v.host === "string" ? v.host : null,
        ...extra,
      };
    },
    async verify(ctx) {
      const db = p.database(ctx)!;
      const v = await current(ctx);
      if (v.host !== db.host) throw new Error(`secret ${p.secret(ctx).arn} still names another host after the update`);
    },
  };
}
