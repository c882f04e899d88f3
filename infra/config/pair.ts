/**
 * The two stacks of the pair, checked against each other: exactly one primary and one dr, each
 * naming the other as its peer, each's peerRegion the other's aws:region, and retention that the
 * other side can hold (the primary's AWS Backup copies land in dr's locked vault; its bucket
 * replicates into dr's bucket). Each problem names the stack and the key that is wrong. Pure.
 */
import { keyFor, type Parsed, show } from "./rules.ts";

/** One stack of the pair: its name and its parsed config. */
export interface Side {
  stack: string;
  c: Parsed;
}

const at = (side: string, path: ReadonlyArray<PropertyKey>) => `stack ${side}: ${keyFor(path)}`;

/**
 * Pure: a pair whose raw configs claim the same role, as one problem (every role rule after it
 * would mislead: a dr stack checked as a primary misses six primary-only keys).
 */
export function roleConflict(a: { stack: string; role: unknown }, b: { stack: string; role: unknown }): string[] {
  if (a.role !== b.role || (a.role !== "primary" && a.role !== "dr")) return [];
  return [
    `${keyFor(["role"])}: stacks ${a.stack} and ${b.stack} both say ${show(a.role)}; expected exactly one "primary" and one "dr": set the role of the stack that is the ${a.role === "primary" ? "DR" : "primary"} one`,
  ];
}

/** Pure: the contradictions between the two parsed stacks (roles already differ). */
export function pairProblems(a: Side, b: Side): string[] {
  const out: string[] = [];
  for (const [x, y] of [
    [a, b],
    [b, a],
  ] as const) {
    if (x.c.peerStack !== y.stack)
      out.push(
        `${at(x.stack, ["peerStack"])}: ${show(x.c.peerStack)} is not allowed; expected ${show(y.stack)}, the other stack of the pair`,
      );
  }
  const [primary, dr] = a.c.role === "primary" ? [a, b] : [b, a];
  // dr's aws:region is where the DR side is: the primary's peerRegion must say it (and the reverse).
  if (primary.c.peerRegion !== dr.c.region)
    out.push(
      `${at(primary.stack, ["peerRegion"])}: ${show(primary.c.peerRegion)} is not allowed; expected ${show(dr.c.region)}, the aws:region of its peer stack ${dr.stack}`,
    );
  if (dr.c.peerRegion !== primary.c.region)
    out.push(
      `${at(dr.stack, ["peerRegion"])}: ${show(dr.c.peerRegion)} is not allowed; expected ${show(primary.c.region)}, the aws:region of its peer stack ${primary.stack}`,
    );
  const lock = dr.c.backup.vaultLock;
  const days = primary.c.backup.retentionDays;
  if (primary.c.backup.copyToPeer && (days < lock.minRetentionDays || days > lock.maxRetentionDays))
    out.push(
      `${at(primary.stack, ["backup", "retentionDays"])}: ${days} is not allowed; expected a value within stack ${dr.stack}'s vault lock ${lock.minRetentionDays}..${lock.maxRetentionDays} days (backup.vaultLock): the copies land in its vault with this retention, and the lock refuses any other`,
    );
  if (primary.c.backup.replicateToPeer)
    for (const [prefix, keep] of Object.entries(primary.c.backup.bucketRetentionDays)) {
      const drKeep = dr.c.backup.bucketRetentionDays[prefix as keyof Parsed["backup"]["bucketRetentionDays"]];
      if (drKeep < keep)
        out.push(
          `${at(dr.stack, ["backup", "bucketRetentionDays", prefix])}: ${drKeep} is not allowed; expected at least ${keep}, stack ${primary.stack}'s retention of the ${prefix} backups it replicates here: in a regional disaster the DR copies are all there is`,
        );
    }
  return out;
}
