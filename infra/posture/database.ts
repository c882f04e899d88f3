/**
 * Database mechanisms from the declared RDS instance, its cross-region automated-backup
 * replication and the AWS Backup plan: worst-case RPO and restore time of each.
 */
import { FIGURES, type FigureId } from "./figures.ts";
import type { Mechanism } from "./model.ts";
import {
  asArray,
  mechanism,
  ofType,
  RESOURCE_TYPE,
  resourceLabel,
  type DeclaredResource,
  type PairContext,
} from "./resources.ts";
import { longestIntervalMinutes } from "../config/validators.ts";

/** Minutes to restore an RDS instance of `sizeGiB` (provisioning + reading the volume once). */
export function rdsRestoreMinutes(sizeGiB: number, withLogReplay: boolean): number {
  const throughput =
    sizeGiB >= FIGURES.gp3LargeThreshold.value ? FIGURES.gp3LargeThroughput.value : FIGURES.gp3BaselineThroughput.value;
  const hydrate = (sizeGiB * 1024) / throughput / 60;
  const total = FIGURES.rdsRestoreProvisioning.value + hydrate + (withLogReplay ? FIGURES.rdsPitrLogReplay.value : 0);
  return Math.round(total * 10) / 10;
}

const rdsFigures = (size: number, replay: boolean): FigureId[] => [
  "rdsRestoreProvisioning",
  size >= FIGURES.gp3LargeThreshold.value ? "gp3LargeThroughput" : "gp3BaselineThroughput",
  ...(replay ? (["rdsPitrLogReplay"] as FigureId[]) : []),
];

export function databaseMechanisms(rs: DeclaredResource[], pair: PairContext): Mechanism[] {
  const out: Mechanism[] = [];
  for (const db of ofType(rs, RESOURCE_TYPE.rds).filter((r) => r.stack === pair.primaryStack)) {
    const size = Number(db.inputs.allocatedStorage ?? 0);
    const retention = Number(db.inputs.backupRetentionPeriod ?? 0);
    if (retention >= 1) {
      out.push(
        mechanism({
          id: "rds-pitr",
          protects: "database",
          scope: "in-region",
          description: `RDS automated backups, ${retention} d, point-in-time restore (logs every ${FIGURES.rdsLogUploadInterval.value} min), ${size} GiB`,
          rpoMinutes: FIGURES.rdsLogUploadInterval.value,
          restoreMinutes: rdsRestoreMinutes(size, true),
          figures: ["rdsLogUploadInterval", ...rdsFigures(size, true)],
          resources: [resourceLabel(db)],
        }),
      );
      for (const rep of ofType(rs, RESOURCE_TYPE.rdsReplication)) {
        out.push(
          mechanism({
            id: "rds-pitr-replicated",
            protects: "database",
            scope: "cross-region",
            description: `RDS automated backups replicated to ${pair.drRegion}, ${rep.inputs.retentionPeriod ?? 7} d, point-in-time restore there`,
            rpoMinutes: FIGURES.rdsLogUploadInterval.value + FIGURES.rdsCrossRegionLogCopyLag.value,
            restoreMinutes: rdsRestoreMinutes(size, true),
            figures: ["rdsLogUploadInterval", "rdsCrossRegionLogCopyLag", ...rdsFigures(size, true)],
            resources: [resourceLabel(db), resourceLabel(rep)],
          }),
        );
      }
    }
    if (ofType(rs, RESOURCE_TYPE.selection).length === 0) continue;
    for (const plan of ofType(rs, RESOURCE_TYPE.plan)) {
      for (const rule of asArray<any>(plan.inputs.rules)) {
        if (typeof rule.schedule !== "string") continue;
        const every = longestIntervalMinutes(rule.schedule);
        const start = typeof rule.startWindow === "number" ? rule.startWindow : FIGURES.backupDefaultStartWindow.value;
        const startFigures: FigureId[] = typeof rule.startWindow === "number" ? [] : ["backupDefaultStartWindow"];
        const base = `AWS Backup rule ${rule.ruleName} (${rule.schedule}: every ${every} min, start window ${start} min)`;
        out.push(
          mechanism({
            id: `backup-${rule.ruleName}`,
            protects: "database",
            scope: "in-region",
            description: `${base}, snapshot restore`,
            rpoMinutes: every + start,
            restoreMinutes: rdsRestoreMinutes(size, false),
            figures: [...startFigures, ...rdsFigures(size, false)],
            resources: [resourceLabel(plan), resourceLabel(db)],
          }),
        );
        if (
          asArray(rule.copyActions).some((c: any) => String(c.destinationVaultArn ?? "").includes(`:${pair.drRegion}:`))
        ) {
          out.push(
            mechanism({
              id: `backup-${rule.ruleName}-copy`,
              protects: "database",
              scope: "cross-region",
              description: `${base}, copied to the ${pair.drRegion} vault`,
              rpoMinutes: every + start + FIGURES.backupCrossRegionCopy.value,
              restoreMinutes: rdsRestoreMinutes(size, false),
              figures: [...startFigures, "backupCrossRegionCopy", ...rdsFigures(size, false)],
              resources: [resourceLabel(plan), resourceLabel(db)],
            }),
          );
        }
      }
    }
  }
  return out;
}
