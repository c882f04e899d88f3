/**
 * Lift the fence on the old primary database, as a decision: its security groups back to the ones
 * the prod stack declares (`database.securityGroupIds`), then its fence record (the tags
 * `eventchain:fenced-by`, `-at`; contract/fence-record.ts) removed, so the next `pulumi up` of prod declares
 * its own groups again and changes nothing. The one way to lift a fence: a `pulumi up` keeps it.
 * `--fence` must name the fence (the run id in its record, or `unrecorded`); the run refuses while
 * the failover switch is not disengaged (DR may take writes: split brain) unless `--force`. The
 * services are not touched. See runbooks/docs/lift-fence.md.
 *
 *   npx zx runbooks/lift-fence.ts --stack prod --fence <run id> [--yes] [--force]
 */
import { ModifyDBInstanceCommand, RDSClient, RemoveTagsFromResourceCommand } from "@aws-sdk/client-rds";
import { FENCE_TAG, fenceStateOf, liftFenceProblem, sameGroups, type LiveDatabase } from "../contract/fence-record.ts";
import type { StackOutputs } from "../contract/stack-outputs.ts";
import { boundedOrThrow } from "./aws/bounded.ts";
import { liveOf, restoreKubernetesStep } from "./aws/fencing.ts";
import { describeInstance } from "./aws/rds.ts";
import { s3RunStore, TRAFFIC_LOCK_SCOPE } from "./aws/journal-store.ts";
import { snsSinks } from "./aws/alert-topic-sinks.ts";
import { s3OutputsMirror } from "./aws/outputs-mirror-reader.ts";
import { parsePrimaryTimeout, PRIMARY_TIMEOUT_OPTIONS, type PrimaryTimeoutOptions } from "./aws/primary.ts";
import { NO_SWITCH, readSwitchPosition } from "./aws/switch.ts";
import { isMain, runCli } from "./lib/cli.ts";
import { BadInputError } from "./lib/errors.ts";
import { stringOption } from "./lib/options.ts";
import { stepFor, type RawOptions, type RunContext, type Runbook } from "./lib/types.ts";

export interface LiftFenceOptions extends PrimaryTimeoutOptions {
  /** The fence to lift: the run id in `eventchain:fenced-by`, or `unrecorded`. */
  fence: string;
}
type Ctx = RunContext<LiftFenceOptions>;
const step = stepFor<LiftFenceOptions>();
const bound = (ctx: Ctx) => ctx.options.primaryTimeoutSeconds * 1000;

async function readInstance(ctx: Ctx): Promise<LiveDatabase & { arn: string }> {
  const prod: StackOutputs = ctx.outputs;
  const id = prod.database.instanceIdentifier;
  const instance = await boundedOrThrow(
    `rds DescribeDBInstances ${id} (${prod.region})`,
    bound(ctx),
    (abortSignal) => describeInstance(ctx.aws(RDSClient, prod.region), id, abortSignal),
    ctx.signal,
  );
  if (!instance) throw new BadInputError(`${id} does not exist in ${prod.region}: no fence to lift`);
  return { ...liveOf(id, instance), arn: instance.DBInstanceArn ?? id };
}

/** Lifted: on the declared groups, no record. */
const lifted = (ctx: Ctx, live: LiveDatabase) =>
  !(FENCE_TAG.by in live.tags) && sameGroups(live.securityGroupIds, ctx.outputs.database.securityGroupIds);

const check = step({
  id: "check-fence",
  dependsOn: [],
  title: "Check the fence named is the one on the instance and the failover switch is disengaged",
  readOnly: true,
  // Re-checked right before the lift on a resumed run: the switch may have moved since.
  gate: true,
  describe: (ctx) => [
    {
      kind: "aws",
      action: `rds:DescribeDBInstances (${ctx.outputs.region}, bounded)`,
      detail: { DBInstanceIdentifier: ctx.outputs.database.instanceIdentifier, fence: ctx.options.fence },
    },
    {
      kind: "aws",
      action: `cloudwatch:DescribeAlarms (${ctx.outputs.failover.switch.region})`,
      detail: { AlarmNames: [ctx.outputs.failover.switch.alarmName], expected: "OK (disengaged)" },
    },
  ],
  async run(ctx) {
    const prod = ctx.outputs;
    if (prod.role !== "primary")
      throw new BadInputError(
        `lift-fence lifts the fence on the primary stack's database: --stack must have role "primary", got "${prod.stack}" (role "${prod.role}")`,
      );
    const live = await readInstance(ctx);
    const state = fenceStateOf(live, prod.failover.fenceSecurityGroupIds);
    const problem = liftFenceProblem(prod.stack, live, prod.failover.fenceSecurityGroupIds, ctx.options.fence);
    if (problem) throw new BadInputError(problem);
    if (!state.fenced && !lifted(ctx, live))
      throw new BadInputError(
        `${live.identifier} is not fenced (no tag ${FENCE_TAG.by}; security groups ` +
          `${live.securityGroupIds.join(", ") || "none"}), so lift-fence changes nothing; a 'pulumi up' of ` +
          `${prod.stack} declares ${prod.database.securityGroupIds.join(", ")}`,
      );
    const switchPosition = await readSwitchPosition(ctx, prod);
    if (switchPosition !== "disengaged" && !lifted(ctx, live)) {
      const why =
        switchPosition === NO_SWITCH
          ? `failover mode is automatic: nothing here tells whether ${prod.peerRegion} takes writes`
          : `the failover switch is ${switchPosition} (alarm ${prod.failover.switch.alarmName} in ${prod.failover.switch.region}): clients may be on ${prod.peerRegion}, writing there`;
      if (!ctx.force)
        throw new BadInputError(
          `${why}; lifting the fence on ${live.identifier} now lets writes reach it too (split brain). Fail ` +
            `back first (npx zx runbooks/failback.ts --stack ${prod.stack} --writes-stopped), or pass --force ` +
            `once you have made sure nothing writes to ${prod.peerRegion}`,
        );
      ctx.log.warn(`lifting the fence although ${why}, because of --force`);
    }
    return {
      instance: live.identifier,
      fence: state.fenced ? ctx.options.fence : null,
      securityGroups: live.securityGroupIds,
      switchPosition,
    };
  },
});

const lift = step({
  id: "lift-fence",
  dependsOn: [check],
  title: "Lift the fence: the declared security groups back, then the fence record removed",
  destructive: true,
  describe: (ctx) => [
    {
      kind: "aws",
      action: `rds:ModifyDBInstance (${ctx.outputs.region}, bounded)`,
      detail: {
        DBInstanceIdentifier: ctx.outputs.database.instanceIdentifier,
        VpcSecurityGroupIds: ctx.outputs.database.securityGroupIds,
        ApplyImmediately: true,
      },
    },
    {
      kind: "aws",
      action: `rds:RemoveTagsFromResource (${ctx.outputs.region}, bounded)`,
      detail: { TagKeys: Object.values(FENCE_TAG) },
    },
  ],
  async isDone(ctx) {
    const live = await readInstance(ctx);
    return lifted(ctx, live)
      ? {
          instance: live.identifier,
          securityGroups: live.securityGroupIds,
          result: `nothing lifted: ${live.identifier} carries no fence (no fence ${JSON.stringify(ctx.options.fence)} on it: lifted already, or never set)`,
        }
      : false;
  },
  async run(ctx) {
    const prod = ctx.outputs;
    const rds = ctx.aws(RDSClient, prod.region);
    const live = await readInstance(ctx);
    const declared = prod.database.securityGroupIds;
    // Groups first, record last: until the record is gone, the prod stack keeps the fence.
    if (!sameGroups(live.securityGroupIds, declared))
      await boundedOrThrow(
        `rds ModifyDBInstance ${live.identifier} VpcSecurityGroupIds ${declared.join(",")} (${prod.region})`,
        bound(ctx),
        (abortSignal) =>
          rds.send(
            new ModifyDBInstanceCommand({
              DBInstanceIdentifier: live.identifier,
              VpcSecurityGroupIds: declared,
              ApplyImmediately: true,
            }),
            { abortSignal },
          ),
        ctx.signal,
      );
    if (Object.values(FENCE_TAG).some((k) => k in live.tags))
      await boundedOrThrow(
        `rds RemoveTagsFromResource ${live.identifier} ${Object.values(FENCE_TAG).join(",")} (${prod.region})`,
        bound(ctx),
        (abortSignal) =>
          rds.send(new RemoveTagsFromResourceCommand({ ResourceName: live.arn, TagKeys: Object.values(FENCE_TAG) }), {
            abortSignal,
          }),
        ctx.signal,
      );
    return {
      instance: live.identifier,
      securityGroups: declared,
      previousSecurityGroups: live.securityGroupIds,
      result: `fence ${ctx.options.fence} lifted: security groups ${declared.join(", ")}, fence record removed`,
    };
  },
  async verify(ctx) {
    const live = await readInstance(ctx);
    if (!lifted(ctx, live))
      throw new Error(
        `${live.identifier} is still fenced: security groups ${live.securityGroupIds.join(", ")}, tags ${JSON.stringify(live.tags)}`,
      );
  },
});

const restoreKubernetes = restoreKubernetesStep<LiftFenceOptions>({
  id: "restore-kubernetes",
  title: "Scale the Kubernetes Deployments the fence stopped back to the counts it recorded",
  dependsOn: [lift],
  boundSeconds: (ctx) => ctx.options.primaryTimeoutSeconds,
});

export const runbook: Runbook<LiftFenceOptions> = {
  name: "lift-fence",
  summary:
    "Lift the fence on the old primary database (a decision): its declared security groups back and its fence record removed",
  system: "primary-database",
  options: {
    fence: {
      type: "string",
      description: `The fence to lift: the run id in the instance's tag ${FENCE_TAG.by}, or "unrecorded" for an instance on the fence group without one`,
    },
    ...PRIMARY_TIMEOUT_OPTIONS,
  },
  parseOptions: (raw: RawOptions) => ({
    ...parsePrimaryTimeout(raw),
    fence: stringOption(raw, "fence", `the run id in the instance's tag ${FENCE_TAG.by} (or "unrecorded")`),
  }),
  steps: [check, lift, restoreKubernetes],
  sharedStore: s3RunStore,
  lockScope: TRAFFIC_LOCK_SCOPE,
  nextSteps: (ctx) => [
    ...(ctx.peek(lift)?.result?.startsWith("nothing lifted") ? [`NOTHING WAS LIFTED: ${ctx.peek(lift)!.result}.`] : []),
    `${ctx.outputs.database.instanceIdentifier} is no longer fenced: it accepts connections from ${ctx.outputs.database.securityGroupIds.join(", ")} again, and a 'pulumi up' of ${ctx.outputs.stack} declares exactly that (no change).`,
    `The primary ECS services were not touched (its Kubernetes Deployments are back at the counts the fence recorded): scale the ECS services only as part of failback (npx zx runbooks/failback.ts --stack ${ctx.outputs.stack} --writes-stopped) or service-recovery.`,
  ],
};

if (isMain(import.meta.url)) await runCli(runbook, { sinks: snsSinks, outputsMirror: s3OutputsMirror });
