/**
 * Database point-in-time recovery (the plan's database-point-in-time-recovery.sh, fixed):
 * checks the requested time against the restorable window, restores into a NEW instance
 * with the source's settings, waits with the SDK waiter, verifies, snapshots the recovered
 * instance and prints next steps. The source is never modified.
 *
 *   npx zx runbooks/point-in-time-restore.ts --stack prod --time 2026-01-15T14:30:00Z
 */
import { snsSinks } from "./aws/alert-topic-sinks.ts";
import { s3RunStore } from "./aws/journal-store.ts";
import { positiveNumber, stringOption, withDefaults } from "./lib/options.ts";
import { rdsPitr } from "./engines/rds-pitr.ts";
import { pgbackrestPitr } from "./engines/pgbackrest-pitr.ts";
import { isMain, parseTime, runCli } from "./lib/cli.ts";
import { BadInputError } from "./lib/errors.ts";
import { checkRestoreTime, type PitrOptions, type RestoreEngine, type RestoreTarget } from "./lib/restore-engine.ts";
import {
  stepFor,
  type StepOutputs,
  type OptionSpec,
  type RawOptions,
  type RunContext,
  type Runbook,
} from "./lib/types.ts";

/** Restore engines by `--engine` name. Add one line per engine (see runbooks/lib/README.md). */
export const ENGINES: Record<string, RestoreEngine<any, any>> = {
  rds: rdsPitr,
  pgbackrest: pgbackrestPitr,
};

const TARGET_ID = /^[A-Za-z][A-Za-z0-9-]{0,62}$/;

function engineOptions(): Record<string, OptionSpec> {
  return Object.assign({}, ...Object.values(ENGINES).map((e) => e.options ?? {}));
}

/** The runbook's own options; each engine's follow them in `--help` (`runbook.options`). */
export const PITR_OPTIONS = {
  time: { type: "string", description: 'Restore time, ISO 8601 with zone (e.g. 2026-01-15T14:30:00Z), or "latest"' },
  engine: { type: "string", description: `Restore engine: ${Object.keys(ENGINES).join(", ")}`, default: "rds" },
  "target-id": {
    type: "string",
    description: "Identifier of the new instance (default <source>-pitr-<restore time>)",
  },
  "max-wait-minutes": { type: "string", description: "Longest wait for the restore and the snapshot", default: "60" },
} satisfies Record<string, OptionSpec>;

export function parsePitrOptions(raw: RawOptions): PitrOptions {
  const options = withDefaults(PITR_OPTIONS, raw);
  const engines = `one of ${Object.keys(ENGINES).join(", ")}`;
  const engineName = stringOption(options, "engine", engines);
  const engine = ENGINES[engineName];
  if (!engine) throw new BadInputError(`unknown --engine "${engineName}": expected ${engines}`);
  // Another engine's option would be silently ignored: refuse it, naming the engine that takes it.
  // (Its default written out is the same as leaving it out.)
  for (const [name, other] of Object.entries(ENGINES))
    for (const [option, spec] of Object.entries(other.options ?? {}))
      if (
        name !== engineName &&
        raw[option] !== undefined &&
        raw[option] !== spec.default &&
        !(option in (engine.options ?? {}))
      )
        throw new BadInputError(
          `--${option} applies to --engine ${name}, not ${engineName}: leave it out, or use --engine ${name}`,
        );
  if (typeof options.time !== "string")
    throw new BadInputError(
      'missing --time: give an ISO 8601 time with a zone (e.g. 2026-01-15T14:30:00Z) or "latest"',
    );
  const time = options.time === "latest" ? "latest" : parseTime("time", options.time);
  const targetId = typeof options["target-id"] === "string" ? options["target-id"] : undefined;
  if (targetId !== undefined && (!TARGET_ID.test(targetId) || targetId.includes("--") || targetId.endsWith("-"))) {
    throw new BadInputError(
      `invalid --target-id "${targetId}": expected 1-63 letters, digits or single hyphens, starting with a letter`,
    );
  }
  return {
    engine: engineName,
    time,
    targetId,
    maxWaitMinutes: positiveNumber(options, "max-wait-minutes", 24 * 60),
    engineOptions: engine.parseOptions ? engine.parseOptions(withDefaults(engine.options ?? {}, raw)) : {},
  };
}

type Ctx = RunContext<PitrOptions>;
const engineOf = (ctx: Ctx) => ENGINES[ctx.options.engine]!;
const targetOf = (ctx: Ctx): RestoreTarget => ctx.result(checkWindow);

const step = stepFor<PitrOptions>();

export const checkWindow = step({
  id: "check-window",
  dependsOn: [],
  title: "Check the requested time lies in the restorable window",
  readOnly: true,
  milestone: "backup_identified",
  describe: (ctx) => [
    {
      kind: "note",
      action:
        `read the restorable window of ${ctx.outputs.database.instanceIdentifier} (engine ` +
        `${ctx.options.engine}) and check ` +
        `${ctx.options.time === "latest" ? "the latest restorable time" : ctx.options.time.toISOString()} ` +
        `lies in it`,
    },
  ],
  async run(ctx) {
    const engine = engineOf(ctx);
    const window = await engine.window(ctx);
    const time = ctx.options.time === "latest" ? window.latest : ctx.options.time;
    checkRestoreTime(time, window);
    const restoreTime = time.toISOString();
    const targetId = ctx.options.targetId ?? engine.targetId(ctx, time);
    if (targetId === ctx.outputs.database.instanceIdentifier)
      throw new BadInputError(`--target-id "${targetId}" is the source itself: expected a new identifier`);
    return {
      restoreTime,
      targetId,
      earliest: window.earliest.toISOString(),
      latest: window.latest.toISOString(),
      recoveryPointAt: restoreTime,
      recoveryPointSource: `point in time of ${window.source}`,
    };
  },
});

export const restore = step({
  id: "restore",
  dependsOn: [checkWindow],
  title: "Restore into a new instance",
  milestone: "restore_started",
  describe: (ctx) =>
    engineOf(ctx)
      .plan(ctx, ctx.peek(checkWindow))
      .filter((a) => !/wait/i.test(a.action)),
  isDone: (ctx) => engineOf(ctx).exists(ctx, targetOf(ctx)),
  run: (ctx): Promise<StepOutputs> => engineOf(ctx).restore(ctx, targetOf(ctx)),
});

export const waitReady = step({
  id: "wait-ready",
  dependsOn: [checkWindow, restore],
  title: "Wait until the recovered instance is available",
  milestone: "restore_completed",
  describe: (ctx) =>
    engineOf(ctx)
      .plan(ctx, ctx.peek(checkWindow))
      .filter((a) => /wait/i.test(a.action)),
  run: (ctx) => engineOf(ctx).waitReady(ctx, targetOf(ctx), ctx.result(restore)),
});

export const verify = step({
  id: "verify",
  dependsOn: [checkWindow, restore, waitReady],
  title: "Verify the recovered instance's settings",
  milestone: "health_verified",
  describe: (ctx) => [
    {
      kind: "note",
      action: `describe ${ctx.peek(checkWindow)?.targetId ?? "the target"} and compare class, subnet group, security groups, parameter group, encryption, public access with the source`,
    },
  ],
  run: (ctx) => engineOf(ctx).verify(ctx, targetOf(ctx), ctx.result(restore)),
});

export const snapshot = step({
  id: "snapshot",
  dependsOn: [checkWindow, restore, verify],
  title: "Snapshot the recovered instance",
  describe: (ctx) => {
    const t = ctx.peek(checkWindow);
    const s = engineOf(ctx).snapshot;
    return s && t
      ? s.describe(ctx, t)
      : [
          {
            kind: "note",
            action: s ? "snapshot the recovered target" : `engine ${ctx.options.engine} takes no snapshot`,
          },
        ];
  },
  isDone: async (ctx): Promise<StepOutputs | false> => {
    const s = engineOf(ctx).snapshot;
    return s
      ? s.exists(ctx, targetOf(ctx), ctx.peek(restore))
      : { skipped: `engine ${ctx.options.engine} takes no snapshot` };
  },
  run: (ctx): Promise<StepOutputs> => engineOf(ctx).snapshot!.run(ctx, targetOf(ctx), ctx.result(restore)),
});

const steps = [checkWindow, restore, waitReady, verify, snapshot];

export const runbook: Runbook<PitrOptions> = {
  name: "point-in-time-restore",
  summary: "Restore the primary database to a point in time, into a new instance (the source is untouched)",
  system: "primary-database",
  options: { ...PITR_OPTIONS, ...engineOptions() },
  parseOptions: parsePitrOptions,
  preflight: (ctx) => engineOf(ctx).preflight?.(ctx) ?? [],
  sharedStore: s3RunStore,
  steps,
  nextSteps: (ctx) =>
    engineOf(ctx).nextSteps(ctx, targetOf(ctx), {
      restored: ctx.peek(restore),
      verified: ctx.peek(verify),
      snapshot: ctx.peek(snapshot),
    }),
};

if (isMain(import.meta.url)) await runCli(runbook, { sinks: snsSinks });
