/**
 * Fence the old primary on its own: every primary ECS service to desired count 0, and the primary
 * database's security groups set to the fence group (admits nothing): no new connection reaches
 * it. Nothing is deleted. Run it as soon as the primary region answers after a region-failover
 * that reported "primary not fenced" (failback also fences first). Each call is bounded; the run
 * fails, naming what did not answer, when the primary cannot be fenced. It shares the "traffic"
 * run lock of the stack pair with region-failover and failback (never while one of them runs).
 * See runbooks/docs/region-failover.md#fencing.
 *
 *   npx zx runbooks/fence-primary.ts --stack prod [--yes]
 */
import { s3RunStore, TRAFFIC_LOCK_SCOPE } from "./aws/journal-store.ts";
import { NO_SWITCH, readSwitchPosition, switchOf } from "./aws/switch.ts";
import { FENCE_TAG, liftCommand } from "../contract/fence-record.ts";
import { snsSinks } from "./aws/alert-topic-sinks.ts";
import { s3OutputsMirror } from "./aws/outputs-mirror-reader.ts";
import { parsePrimaryTimeout, PRIMARY_TIMEOUT_OPTIONS, type PrimaryTimeoutOptions } from "./aws/primary.ts";
import { fencePrimaryStep } from "./aws/steps.ts";
import { isMain, runCli } from "./lib/cli.ts";
import { BadInputError, errorMessage } from "./lib/errors.ts";
import { stepFor, type RawOptions, type RunContext, type Runbook } from "./lib/types.ts";

const step = stepFor<PrimaryTimeoutOptions>();

const checkStack = step({
  id: "check-stack",
  dependsOn: [],
  title: "Check the stack is the primary, declares a fence, and its clients have moved away",
  readOnly: true,
  // Re-checked right before the fence on a resumed run: the switch may have moved since.
  gate: true,
  describe: (ctx) => [
    { kind: "note", action: "reads the outputs" },
    ...(!switchOf(ctx.outputs)
      ? []
      : [
          {
            kind: "aws" as const,
            action: `cloudwatch:DescribeAlarms (${ctx.outputs.failover.switch.region})`,
            detail: { AlarmNames: [ctx.outputs.failover.switch.alarmName], expected: "ALARM (engaged)" },
          },
        ]),
  ],
  async run(ctx) {
    if (ctx.outputs.role !== "primary")
      throw new BadInputError(
        `fence-primary fences the primary stack: --stack must have role "primary", got "${ctx.outputs.stack}" (role "${ctx.outputs.role}"); use --stack ${ctx.outputs.peerStack}`,
      );
    if (ctx.outputs.failover.fenceSecurityGroupIds.length === 0)
      throw new BadInputError(
        `stack ${ctx.outputs.stack} declares no fence security group (failover.fenceSecurityGroupIds is empty): deploy it with this version first`,
      );
    const switchPosition = await switchGuard(ctx);
    return { stack: ctx.outputs.stack, fence: ctx.outputs.failover.fenceSecurityGroupIds, switchPosition };
  },
});

/**
 * Fencing stops the primary's services and its database's new connections: right after a
 * failover, an outage of nothing; while the switch sends clients to the primary (after a
 * failback, or before any failover), an outage of everything. Refused then unless --force.
 */
async function switchGuard(ctx: RunContext<PrimaryTimeoutOptions>): Promise<string> {
  const prod = ctx.outputs;
  const sw = prod.failover.switch;
  let position: string;
  try {
    position = await readSwitchPosition(ctx, prod);
  } catch (error) {
    if (!ctx.force)
      throw new BadInputError(
        `cannot read the failover switch (alarm ${sw.alarmName} in ${sw.region}): ${errorMessage(error)}; fence only once you know clients left ${prod.region} (pass --force then)`,
      );
    ctx.log.warn(`fencing without reading the failover switch, because of --force: ${errorMessage(error)}`);
    return "unknown";
  }
  if (position === NO_SWITCH)
    ctx.log.warn(
      `failover mode is automatic: nothing here tells whether clients left ${prod.region}; fencing stops whatever still serves them`,
    );
  if (position === "disengaged") {
    const why =
      `the failover switch is disengaged (alarm ${sw.alarmName} in ${sw.region} is OK): clients are sent ` +
      `to ${prod.region}, and fencing sets its services to 0 and closes its database to new connections — ` +
      `an outage`;
    if (!ctx.force)
      throw new BadInputError(
        `${why}. Fence after region-failover has engaged the switch (npx zx runbooks/region-failover.ts ` +
          `--stack ${prod.stack}), or pass --force once you have made sure nothing is served from ${prod.region}`,
      );
    ctx.log.warn(`fencing although ${why}, because of --force`);
  }
  return position;
}

const fence = fencePrimaryStep<PrimaryTimeoutOptions>({
  id: "fence-primary",
  title: "Fence the old primary (services to 0, no new database connections)",
  dependsOn: [checkStack],
  required: true,
  boundSeconds: (ctx) => ctx.options.primaryTimeoutSeconds,
});

export const runbook: Runbook<PrimaryTimeoutOptions> = {
  name: "fence-primary",
  summary: "Fence the old primary after a failover: its services to 0 and no new connections to its database",
  system: "primary-database",
  options: { ...PRIMARY_TIMEOUT_OPTIONS },
  parseOptions: (raw: RawOptions) => parsePrimaryTimeout(raw),
  steps: [checkStack, fence],
  sharedStore: s3RunStore,
  lockScope: TRAFFIC_LOCK_SCOPE,
  nextSteps: (ctx) => {
    const by = ctx.peek(fence)?.database.fencedBy ?? "<the run id in its tag eventchain:fenced-by>";
    return [
      `${ctx.outputs.database.instanceIdentifier} is fenced (security groups ` +
        `${ctx.outputs.failover.fenceSecurityGroupIds.join(", ")}) and kept, with every write it took: ` +
        `reconcile before retiring it, as an explicit, logged decision.`,
      `The fence is recorded on the instance (${FENCE_TAG.by} ${by}): a 'pulumi up' of ` +
        `${ctx.outputs.stack} keeps it, with or without a refresh. Lift it only as a decision: ${liftCommand(ctx.outputs.stack, { fenced: true, recorded: true, by, at: null })}`,
    ];
  },
};

if (isMain(import.meta.url)) await runCli(runbook, { sinks: snsSinks, outputsMirror: s3OutputsMirror });
