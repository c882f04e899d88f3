/**
 * Retention and point-in-time restore, derived from the tier of the data: backups are kept at
 * least the tier's floor, and databases whose RPO is under a day keep automated backups.
 */
import type { ResourceValidationPolicy } from "@pulumi/policy";
import { BASE_FIGURES as FIGURES } from "../contract/figures.ts";
import { asArray, systemOf, systemOfPrefix, tierOf, type PolicyContext } from "./rule-context.ts";
import { at, CACHE, LIFECYCLE, PLAN, RDS, RDS_REPLICATION, type Props } from "./resource-rules.ts";

export function retentionPolicy(ctx: PolicyContext): ResourceValidationPolicy {
  const floorFor = (system: ReturnType<typeof systemOf>) => {
    if (!system) return undefined;
    const { tier } = tierOf(system, ctx);
    return { tier, days: ctx.retentionFloorDays[tier], system };
  };
  const check = (v: (m: string) => void, what: string, days: unknown, floor: ReturnType<typeof floorFor>) => {
    if (!floor) return;
    if (typeof days !== "number" || days < floor.days) {
      v(
        `${what} is ${days === undefined ? "not set" : days} days; ${floor.system} is ${floor.tier}, whose backups must be kept at least ${floor.days} days`,
      );
    }
  };
  return {
    name: "backup-retention-meets-tier",
    description: "Backups are kept at least as long as the tier of the data they hold requires.",
    enforcementLevel: "mandatory",
    validateResource: (args, report) => {
      const v = at(args, report);
      const p: Props = args.props;
      const floor = floorFor(systemOf(args.type, args.name, p));
      if (args.type === RDS) check(v, "backupRetentionPeriod", p.backupRetentionPeriod, floor);
      if (args.type === RDS_REPLICATION) check(v, "retentionPeriod", p.retentionPeriod ?? 7, floor);
      if (args.type === CACHE) check(v, "snapshotRetentionLimit", p.snapshotRetentionLimit ?? 0, floor);
      if (args.type === PLAN) {
        for (const rule of asArray<Props>(p.rules)) {
          check(v, `rule ${rule.ruleName} lifecycle.deleteAfter`, rule.lifecycle?.deleteAfter, floor);
          for (const copy of asArray<Props>(rule.copyActions)) {
            check(v, `rule ${rule.ruleName} copy lifecycle.deleteAfter`, copy.lifecycle?.deleteAfter, floor);
          }
        }
      }
      if (args.type === LIFECYCLE) {
        for (const rule of asArray<Props>(p.rules)) {
          if (rule.status !== "Enabled") continue;
          const prefix = rule.filter?.prefix ?? rule.prefix;
          const floor = floorFor(systemOfPrefix(prefix));
          if (rule.expiration?.days !== undefined)
            check(v, `rule ${rule.id} (${prefix}) expiration`, rule.expiration.days, floor);
          const noncurrent = rule.noncurrentVersionExpiration?.noncurrentDays;
          if (noncurrent !== undefined)
            check(v, `rule ${rule.id} (${prefix}) noncurrent-version expiration`, noncurrent, floor);
        }
      }
    },
  };
}

export function pitrPolicy(ctx: PolicyContext): ResourceValidationPolicy {
  return {
    name: "pitr-for-critical-data",
    description:
      "Databases whose tier's RPO is shorter than a day (critical and important) keep automated backups, so point-in-time restore (≈5 min loss) is possible.",
    enforcementLevel: "mandatory",
    validateResource: (args, report) => {
      if (args.type !== RDS) return;
      const system = systemOf(args.type, args.name, args.props) ?? "primary-database";
      const { tier, rpoMinutes } = tierOf(system, ctx);
      const retention = args.props.backupRetentionPeriod;
      const daily = FIGURES.rdsAutomatedSnapshotInterval.value;
      if (rpoMinutes < daily && !(typeof retention === "number" && retention >= 1)) {
        at(
          args,
          report,
        )(
          `backupRetentionPeriod is ${retention ?? "not set"}: point-in-time restore is off, but ${system} is ` +
            `${tier} (RPO ${rpoMinutes} min) and without it the daily snapshot loses up to ${daily} min`,
        );
      }
    },
  };
}
