/**
 * Backups that cannot stop silently: every backup path the stack declares (the AWS Backup plan
 * and its DR copies, RDS automated-backup replication, each scheduled backup job) has a
 * heartbeat alarm that pages when no success is recorded within 1.5 × its schedule, with missing
 * data breaching. The paths and their alarms are read by `infra/posture/backup-paths.ts`, the
 * same reader the posture report lists them with.
 */
import type { StackValidationPolicy } from "@pulumi/policy";
import { declaredBackupPaths } from "../infra/posture/backup-paths.ts";

export function heartbeatPolicy(): StackValidationPolicy {
  return {
    name: "backup-paths-have-heartbeats",
    description:
      "Every backup path (AWS Backup plan and DR copies, RDS backup replication, scheduled backup jobs) " +
      "has a heartbeat alarm: no success within 1.5 × its schedule pages someone, and missing data breaches.",
    enforcementLevel: "mandatory",
    validateStack: (args, report) => {
      const resources = args.resources.map((r) => ({ type: r.type, name: r.name, props: r.props }));
      for (const path of declaredBackupPaths(resources)) {
        const first = args.resources.find((r) => path.from[0] === `${r.type} ${r.name}`);
        for (const problem of path.problems) report(problem, first?.urn);
      }
    },
  };
}
