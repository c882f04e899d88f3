import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
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
  /** Restore testing: cron for a scheduled test restore of the latest recovery point. Default: none. */
  restoreTestSchedule?: string;
  /** RDS resource ARNs to test-restore, and where the test instance lands. */
  restoreTest?: { dbSubnetGroupName: pulumi.Input<string>; instanceClass: string };
}

const SERVICE_POLICIES = [
  "arn:aws:iam::aws:policy/service-role/AWSBackupServiceRolePolicyForBackup",
  "arn:aws:iam::aws:policy/service-role/AWSBackupServiceRolePolicyForRestores",
];

/**
 * The plan's schedules as an AWS Backup plan: database snapshots every 6 hours and a full backup
 * daily at 02:00 UTC, kept `retentionDays`, each copied to the DR vault; plus a restore testing
 * plan that restores the latest recovery point on a schedule and discards it after validation
 * (the managed form of the plan's test-backup-restore step).
 */
export class BackupPlan extends pulumi.ComponentResource {
  readonly plan: aws.backup.Plan;
  readonly role: aws.iam.Role;
  readonly restoreTestingPlan?: aws.backup.RestoreTestingPlan;

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
    if (args.restoreTestSchedule && args.restoreTest) {
      const planName = `${args.planName.replace(/-/g, "_")}_restore_test`;
      this.restoreTestingPlan = new aws.backup.RestoreTestingPlan(
        `${name}-restore-testing`,
        {
          name: planName,
          scheduleExpression: args.restoreTestSchedule,
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
      new aws.backup.RestoreTestingSelection(
        `${name}-restore-testing-database`,
        {
          name: "database",
          restoreTestingPlanName: this.restoreTestingPlan.name,
          protectedResourceType: "RDS",
          protectedResourceArns: args.resourceArns,
          iamRoleArn: this.role.arn,
          validationWindowHours: 2,
          restoreMetadataOverrides: {
            dbsubnetgroupname: args.restoreTest.dbSubnetGroupName,
            dbinstanceclass: args.restoreTest.instanceClass,
          },
        },
        parent,
      );
    }
    this.registerOutputs({ planId: this.plan.id });
  }
}
