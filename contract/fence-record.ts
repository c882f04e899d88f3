/**
 * The fence record: how a runbook that fences the old primary database tells the Pulumi program
 * it did, and what the program then declares (docs/failover-switch.md, "Fencing the old
 * primary"). Shared by the program (infra/stacks/primary.ts) and the runbooks
 * (runbooks/aws/fencing.ts, runbooks/lift-fence.ts); pure, no AWS or Pulumi calls.
 *
 * The record is two tags on the instance itself, written by the runbook before it moves the
 * instance onto the fence security group and removed only by lift-fence. Every preview and up of
 * the primary stack reads the live instance (tags and security groups) and, while it is fenced,
 * declares it on the fence group with those tags: a `pulumi up`, with or without a `pulumi
 * refresh` first, cannot lift the fence or drop its record. An instance on exactly the fence
 * group without a record (fenced by hand, or by a runbook older than the record) counts as fenced
 * too: the program never moves an instance off the fence group by itself.
 */

/** Tag keys of the fence record. */
export const FENCE_TAG = {
  /** The run that fenced the instance (its run id): what lift-fence's `--fence` must name. */
  by: "eventchain:fenced-by",
  /** When it was fenced (ISO 8601). */
  at: "eventchain:fenced-at",
} as const;

/** What lift-fence's `--fence` names for an instance on the fence group without a record. */
export const UNRECORDED_FENCE = "unrecorded";

/** The instance as it is live (DescribeDBInstances or `aws.rds.getInstance`). */
export interface LiveDatabase {
  identifier: string;
  tags: Record<string, string>;
  securityGroupIds: string[];
}

export type FenceState =
  | { fenced: false }
  /** The fence record is on the instance (whatever its security groups are right now). */
  | { fenced: true; recorded: true; by: string; at: string | null }
  /** No record, but the instance is on exactly the fence group. */
  | { fenced: true; recorded: false };

/** What the program declares for a fenced instance instead of its own security groups. */
export interface DeclaredFence {
  securityGroupIds: string[];
  /** The fence record's tags as live (none for an unrecorded fence). */
  tags: Record<string, string> | undefined;
  /** The warning the preview and the update print. */
  notice: string;
}

/** The same security groups, in any order. */
export const sameGroups = (a: readonly string[], b: readonly string[]): boolean =>
  a.length === b.length && [...a].sort().join() === [...b].sort().join();

/** The tags a fencing run writes on the instance. */
export function fenceTags(runId: string, at: Date): Record<string, string> {
  return { [FENCE_TAG.by]: runId, [FENCE_TAG.at]: at.toISOString() };
}

/** Whether `live` is fenced: its record, or its security groups being exactly the fence group. */
export function fenceStateOf(live: LiveDatabase | undefined, fenceGroupIds: readonly string[]): FenceState {
  if (!live) return { fenced: false };
  if (FENCE_TAG.by in live.tags)
    return { fenced: true, recorded: true, by: live.tags[FENCE_TAG.by]!, at: live.tags[FENCE_TAG.at] ?? null };
  if (fenceGroupIds.length > 0 && sameGroups(live.securityGroupIds, fenceGroupIds))
    return { fenced: true, recorded: false };
  return { fenced: false };
}

/** What `--fence` must be to lift this fence. */
export const fenceName = (state: FenceState & { fenced: true }): string =>
  state.recorded ? state.by : UNRECORDED_FENCE;

/** The lift command for `state`, as the notices print it. */
export const liftCommand = (stack: string, state: FenceState & { fenced: true }): string =>
  `npx zx runbooks/lift-fence.ts --stack ${stack} --fence ${fenceName(state)}`;

/**
 * What the program declares for the instance: undefined when it is not fenced (its own security
 * groups, no tags, exactly as before); otherwise the fence group and the record's tags.
 */
export function declaredFence(
  stack: string,
  live: LiveDatabase | undefined,
  fenceGroupIds: readonly string[],
): DeclaredFence | undefined {
  const state = fenceStateOf(live, fenceGroupIds);
  if (!state.fenced || !live) return undefined;
  const groups = fenceGroupIds.join(", ");
  if (!state.recorded)
    return {
      securityGroupIds: [...fenceGroupIds],
      tags: undefined,
      notice: `${live.identifier} is on the fence security group ${groups} without a fence record (tag ${FENCE_TAG.by}): this update keeps it there. Lift the fence only as a decision: ${liftCommand(stack, state)}`,
    };
  const tags: Record<string, string> = { [FENCE_TAG.by]: state.by };
  if (state.at !== null) tags[FENCE_TAG.at] = state.at;
  const where = sameGroups(live.securityGroupIds, fenceGroupIds)
    ? `this update keeps it on the fence security group ${groups}`
    : `it is on ${live.securityGroupIds.join(", ") || "no security group"}, and this update puts it on the fence security group ${groups}`;
  return {
    securityGroupIds: [...fenceGroupIds],
    tags,
    notice: `${live.identifier} is fenced (${FENCE_TAG.by} ${state.by}${state.at ? `, since ${state.at}` : ""}): ${where} with its fence tags, whatever the Database component declares. Lift the fence only as a decision: ${liftCommand(stack, state)}`,
  };
}

/**
 * Why lift-fence must not lift the fence of `live` when asked for `requested`, or undefined when
 * it may. An instance that is not fenced is not a problem (nothing to lift).
 */
export function liftFenceProblem(
  stack: string,
  live: LiveDatabase,
  fenceGroupIds: readonly string[],
  requested: string,
): string | undefined {
  const state = fenceStateOf(live, fenceGroupIds);
  if (!state.fenced || fenceName(state) === requested) return undefined;
  return state.recorded
    ? `${live.identifier} is fenced by ${state.by}${state.at ? ` (since ${state.at})` : ""}, not ${requested}: --fence must name the fence you mean to lift (tag ${FENCE_TAG.by}): ${liftCommand(stack, state)}`
    : `${live.identifier} is on the fence security group ${fenceGroupIds.join(", ")} without a fence record, not fenced by ${requested}: to lift it, ${liftCommand(stack, state)}`;
}
