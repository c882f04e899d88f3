import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { restoreTestingPlanName } from "../../contract/dr-readiness.ts";
import { serviceRole } from "./iam.ts";

export interface BackupPlanArgs {
  planName: string;
  /** Vault the rules write to (this region). */
  vaultName: pulumi.Input<string>;
  vaultArn: pulumi.Input<string>;
  /** AWS Backup cron for the database snapshots; the plan: every 6 hours. */
  databaseSchedule: string;
  /** AWS Backup cron for the daily full backup; the plan: 02:00 UTC. */
  fullSchedule: string;
  /** Days recovery points are kept, here and in the copy. The plan: 30. */
  retentionDays: number;
  /** Vault in the DR region to copy every recovery point to. Default: no copy. */
  copyToVaultArn?: pulumi.Input<string>;
  /** ARNs of the protected resources (the database). */
  resourceArns: pulumi.Input<string>[];
  accountId: pulumi.Input<string>;
}

/** The AWS-managed policies AWS Backup's role needs to back up and to restore (restore tests). */
export const SERVICE_POLICIES = [
  "arn:aws:iam::aws:policy/service-role/AWSBackupServiceRolePolicyForBackup",
  "arn:aws:iam::aws:policy/service-role/AWSBackupServiceRolePolicyForRestores",
];

export { restoreTestingPlanName };

/**
 * The plan's schedules as an AWS Backup plan: database snapshots every 6 hours and a full backup
 * daily at 02:00 UTC, kept `retentionDays`, each copied to the DR vault. Restore tests run in the
 * DR region over those copies (`RestoreTesting`, declared by the dr stack).
 */
export class BackupPlan extends pulumi.ComponentResource {
  readonly plan: aws.backup.Plan;
  readonly role: aws.iam.Role;

  constructor(name: string, args: BackupPlanArgs, opts?: pulumi.ComponentResourceOptions) {
    super("eventchain:backup:Plan", name, {}, opts);
    const parent = { parent: this };
    this.role = serviceRole(`${name}-role`, "backup.amazonaws.com", args.accountId, [], parent, SERVICE_POLICIES);
    const lifecycle = { deleteAfter: args.retentionDays };
    const copyActions = args.copyToVaultArn ? [{ destinationVaultArn: args.copyToVaultArn, lifecycle }] : [];
    const rule = (ruleName: string, schedule: string) => ({
      ruleName,
      targetVaultName: args.vaultName,
      schedule,
      scheduleExpressionTimezone: "Etc/UTC",
      startWindow: 60,
      completionWindow: 360,
      lifecycle,
      copyActions,
      recoveryPointTags: { rule: ruleName },
    });
    this.plan = new aws.backup.Plan(
      name,
      {
        name: args.planName,
        rules: [rule("database-snapshots", args.databaseSchedule), rule("daily-full", args.fullSchedule)],
      },
      parent,
    );
    new aws.backup.Selection(
      `${name}-selection`,
      {
        name: `${args.planName}-resources`,
        planId: this.plan.id,
        iamRoleArn: this.role.arn,
        resources: args.resourceArns,
      },
      parent,
    );
    this.registerOutputs({ planId: this.plan.id });
  }
}

export interface RestoreTestingArgs {
  /** The stack whose vault is tested (the plan's name: `restoreTestingPlanName`). */
  stack: string;
  /** The vault whose recovery points are restored: in the dr stack, the DR vault holding the copies. */
  vaultArn: pulumi.Input<string>;
  /** AWS Backup cron of the restore tests. The plan: weekly, Monday 06:00 UTC. */
  schedule: string;
  /** Where a test instance lands (the DR restore landing's DB subnet group) and its class. */
  dbSubnetGroupName: pulumi.Input<string>;
  instanceClass: string;
  accountId: pulumi.Input<string>;
  /** Hours a restored instance is kept for our validation before AWS Backup deletes it. Default: 2. */
  validationWindowHours?: number;
}

/**
 * AWS Backup restore testing over one vault's RDS recovery points (in the dr stack: the DR vault,
 * i.e. the copies region-failover restores from): on `schedule`, the newest snapshot of the last
 * 7 days of every RDS resource with recovery points in that vault (`protectedResourceArns: ["*"]`)
 * is restored into the DR landing's subnets, kept `validationWindowHours` for validation, then
 * deleted by AWS Backup. check-dr-readiness validates each restored instance and reports the result
 * (`PutRestoreValidationResult`); its `restore-tests` heartbeat pages when no validated test is recent.
 */
export class RestoreTesting extends pulumi.ComponentResource {
  readonly plan: aws.backup.RestoreTestingPlan;
  readonly selection: aws.backup.RestoreTestingSelection;
  readonly role: aws.iam.Role;

  constructor(name: string, args: RestoreTestingArgs, opts?: pulumi.ComponentResourceOptions) {
    super("eventchain:backup:RestoreTesting", name, {}, opts);
    const parent = { parent: this };
    this.role = serviceRole(`${name}-role`, "backup.amazonaws.com", args.accountId, [], parent, SERVICE_POLICIES);
    this.plan = new aws.backup.RestoreTestingPlan(
      name,
      {
        name: restoreTestingPlanName(args.stack),
        scheduleExpression: args.schedule,
        scheduleExpressionTimezone: "Etc/UTC",
        startWindowHours: 24,
        recoveryPointSelection: {
          algorithm: "LATEST_WITHIN_WINDOW",
          includeVaults: [args.vaultArn],
          recoveryPointTypes: ["SNAPSHOT"],
          selectionWindowDays: 7,
        },
      },
      parent,
    );
    this.selection = new aws.backup.RestoreTestingSelection(
      `${name}-database`,
      {
        name: "database",
        restoreTestingPlanName: this.plan.name,
        protectedResourceType: "RDS",
        protectedResourceArns: ["*"],
        iamRoleArn: this.role.arn,
        validationWindowHours: args.validationWindowHours ?? 2,
        restoreMetadataOverrides: {
          dbsubnetgroupname: args.dbSubnetGroupName,
          dbinstanceclass: args.instanceClass,
        },
      },
      parent,
    );
    this.registerOutputs({ planName: this.plan.name });
  }
}
