/**
 * A healthy prod/dr pair for check-dr-readiness, on top of the failover seed (rehearsal/stand-ins/
 * aws-seed.ts): ECR repositories holding the same image in both regions, task definitions that
 * pull it from their own region's ECR with the same environment and secret names, the services
 * updated to them, and prod's ElastiCache replication group named in its outputs. What moto does
 * not emulate answers recorded responses in the shape of AWS's API reference (`readinessRecorded`):
 * AWS Backup's ListRecoveryPointsByBackupVault, ListRestoreTestingPlans, ListRestoreJobs and
 * PutRestoreValidationResult, and ElastiCache's DescribeSnapshots of automatic snapshots.
 */
import { CreateRepositoryCommand, ECRClient, PutImageCommand } from "@aws-sdk/client-ecr";
import { ECSClient, RegisterTaskDefinitionCommand, UpdateServiceCommand } from "@aws-sdk/client-ecs";
import { CreateDBInstanceCommand, RDSClient } from "@aws-sdk/client-rds";
import { mirrorOutputs } from "../../rehearsal/stand-ins/aws-seed-failover.ts";
import { DR_REGION, PRIMARY_REGION, type Seeded } from "../../rehearsal/stand-ins/aws-seed.ts";
import type { StackOutputs } from "../../contract/stack-outputs.ts";
import { restoreTestingPlanName } from "../../contract/dr-readiness.ts";
import type { Fault, ProxiedRequest } from "./fault-proxy.ts";

export const ACCOUNT = "123456789012";
export const CACHE_GROUP = "eventchain-prod-cache";
export const RESTORED_TEST_DB = "awsbackup-restore-test-7f3a9c";
const MANIFEST = JSON.stringify({
  schemaVersion: 2,
  mediaType: "application/vnd.docker.distribution.manifest.v2+json",
  config: {
    mediaType: "application/vnd.docker.container.image.v1+json",
    size: 7023,
    digest: "sha256:b5b2b2c507a0944348e0303114d8d93aaaa081732b86451d9bce1f432a537bc7",
  },
  layers: [
    {
      mediaType: "application/vnd.docker.image.rootfs.diff.tar.gzip",
      size: 32654,
      digest: "sha256:e692418e4cbaf90ca69d05a66403747baa33ee08806650b51fab815ad7fc331f",
    },
  ],
});

const cfg = (endpoint: string, region: string) => ({ endpoint, region, maxAttempts: 1 });
export const ecrImage = (region: string, role: string) =>
  `${ACCOUNT}.dkr.ecr.${region}.amazonaws.com/eventchain/${role}:1.0.0`;

/** A task definition of `role` as both stacks should have it, for `stack` in `region`. */
export function taskDefinition(
  role: string,
  region: string,
  secretArn: string,
  overrides: { memory?: string; image?: string; env?: Record<string, string> } = {},
) {
  return {
    family: `eventchain-${role}`,
    networkMode: "awsvpc" as const,
    requiresCompatibilities: ["FARGATE" as const],
    cpu: "256",
    memory: overrides.memory ?? "512",
    containerDefinitions: [
      {
        name: role,
        image: overrides.image ?? ecrImage(region, role),
        portMappings: [{ containerPort: 8080 }],
        environment: Object.entries({ LOG_LEVEL: "info", AWS_REGION: region, ...overrides.env }).map(
          ([name, value]) => ({ name, value }),
        ),
        secrets: [{ name: "DATABASE_CONNECTION", valueFrom: secretArn }],
      },
    ],
  };
}

/** Registers `td` and points the stack's service of `role` at it. */
export async function deploy(
  endpoint: string,
  s: StackOutputs,
  role: "backend" | "frontend",
  td: ReturnType<typeof taskDefinition>,
) {
  const ecs = new ECSClient(cfg(endpoint, s.region));
  const arn = (await ecs.send(new RegisterTaskDefinitionCommand(td))).taskDefinition!.taskDefinitionArn!;
  const service = s.services.services[role === "backend" ? 0 : 1]!.name;
  await ecs.send(new UpdateServiceCommand({ cluster: s.services.clusterName, service, taskDefinition: arn }));
}

/** Seeds what a healthy pair has beyond the failover seed; returns the outputs document to run with. */
export async function healthyPair(endpoint: string, seeded: Seeded): Promise<{ prod: StackOutputs; dr: StackOutputs }> {
  for (const region of [PRIMARY_REGION, DR_REGION]) {
    const ecr = new ECRClient(cfg(endpoint, region));
    for (const role of ["backend", "frontend"]) {
      await ecr.send(new CreateRepositoryCommand({ repositoryName: `eventchain/${role}` }));
      await ecr.send(
        new PutImageCommand({ repositoryName: `eventchain/${role}`, imageTag: "1.0.0", imageManifest: MANIFEST }),
      );
    }
  }
  for (const s of [seeded.prod, seeded.dr])
    for (const role of ["backend", "frontend"] as const)
      await deploy(endpoint, s, role, taskDefinition(role, s.region, s.database.appConnectionSecretArn));
  const prod: StackOutputs = { ...seeded.prod, cache: { ...seeded.prod.cache, replicationGroupId: CACHE_GROUP } };
  const dr = seeded.dr;
  await mirrorOutputs(endpoint, [prod, dr]);
  // A restore test's instance, as AWS Backup restores it into the DR landing.
  await new RDSClient(cfg(endpoint, DR_REGION)).send(
    new CreateDBInstanceCommand({
      DBInstanceIdentifier: RESTORED_TEST_DB,
      DBInstanceClass: "db.t4g.medium",
      Engine: "postgres",
      EngineVersion: "15.7",
      DBName: "eventchain",
      MasterUsername: "eventchain_admin",
      MasterUserPassword: "not-used-in-tests-1",
      AllocatedStorage: 100,
      StorageEncrypted: true,
      DBSubnetGroupName: dr.database.subnetGroupName,
    }),
  );
  return { prod, dr };
}

export interface Recorded {
  /** Age of the newest completed copy in the DR vault, minutes. */
  copyAgeMinutes: number;
  /** Age of the newest automatic ElastiCache snapshot, minutes. */
  snapshotAgeMinutes: number;
  /** The restore job's completion age (minutes) and the validation AWS Backup already holds, if any. */
  restoreTest: { ageMinutes: number; validation?: "SUCCESSFUL" | "FAILED" } | null;
  /** Validation results the run reported, as sent. */
  reported: { restoreJobId: string; body: Record<string, unknown> }[];
}

const epoch = (minutesAgo: number) => Math.round((Date.now() - minutesAgo * 60_000) / 1000);
const iso = (minutesAgo: number) => new Date(Date.now() - minutesAgo * 60_000).toISOString();
const json = (body: unknown): Fault => ({ status: 200, contentType: "application/json", body: JSON.stringify(body) });

/**
 * The proxy rule answering what moto does not emulate, in the shape of AWS's API reference
 * (AWS Backup: REST-JSON with epoch-second timestamps; ElastiCache: query XML).
 */
export function readinessRecorded(r: Recorded, prod: StackOutputs, dr: StackOutputs) {
  const planArn = `arn:aws:backup:${DR_REGION}:${ACCOUNT}:restore-testing-plan:${restoreTestingPlanName(dr.stack)}-1a2b3c4d`;
  return (req: ProxiedRequest): Fault => {
    if (req.service === "backup" && req.action.includes("recovery-points"))
      return json({
        RecoveryPoints: [
          {
            RecoveryPointArn: `arn:aws:rds:${DR_REGION}:${ACCOUNT}:snapshot:awsbackup:copyjob-3f5a1c2e-7b9d-4e0f-a1b2-c3d4e5f60718`,
            BackupVaultName: dr.backup.vaultName,
            BackupVaultArn: dr.backup.vaultArn,
            SourceBackupVaultArn: prod.backup.vaultArn,
            ResourceArn: prod.database.instanceArn,
            ResourceType: "RDS",
            Status: "COMPLETED",
            CreationDate: epoch(r.copyAgeMinutes),
            CompletionDate: epoch(r.copyAgeMinutes - 5),
            IsEncrypted: true,
          },
        ],
      });
    if (req.service === "backup" && req.action === "GET /restore-testing/plans")
      return json({
        RestoreTestingPlans: [
          {
            RestoreTestingPlanArn: planArn,
            RestoreTestingPlanName: restoreTestingPlanName(dr.stack),
            ScheduleExpression: "cron(0 6 ? * MON *)",
            ScheduleExpressionTimezone: "Etc/UTC",
            StartWindowHours: 24,
            CreationTime: epoch(60 * 24 * 30),
          },
        ],
      });
    if (req.service === "backup" && req.action === "GET /restore-jobs")
      return json({
        RestoreJobs: r.restoreTest
          ? [
              {
                AccountId: ACCOUNT,
                RestoreJobId: "9b1c7e2a-4d5f-4a6b-8c7d-1e2f3a4b5c6d",
                RecoveryPointArn: `arn:aws:rds:${DR_REGION}:${ACCOUNT}:snapshot:awsbackup:copyjob-3f5a1c2e-7b9d-4e0f-a1b2-c3d4e5f60718`,
                CreationDate: epoch(r.restoreTest.ageMinutes + 30),
                CompletionDate: epoch(r.restoreTest.ageMinutes),
                Status: "COMPLETED",
                CreatedResourceArn: `arn:aws:rds:${DR_REGION}:${ACCOUNT}:db:${RESTORED_TEST_DB}`,
                ResourceType: "RDS",
                CreatedBy: { RestoreTestingPlanArn: planArn },
                ...(r.restoreTest.validation ? { ValidationStatus: r.restoreTest.validation } : {}),
              },
            ]
          : [],
      });
    if (req.service === "backup" && /^PUT \/restore-jobs\/.+\/validations$/.test(req.action)) {
      r.reported.push({
        restoreJobId: req.action.split("/")[2]!,
        body: JSON.parse(req.body) as Record<string, unknown>,
      });
      return { status: 204, body: "" };
    }
    if (req.service === "elasticache" && req.action === "DescribeSnapshots")
      return {
        status: 200,
        contentType: "text/xml",
        body: `<DescribeSnapshotsResponse xmlns="http://elasticache.amazonaws.com/doc/2015-02-02/"><DescribeSnapshotsResult><Snapshots><Snapshot><SnapshotName>automatic.${CACHE_GROUP}-2026-12-07-03-10</SnapshotName><ReplicationGroupId>${CACHE_GROUP}</ReplicationGroupId><SnapshotStatus>available</SnapshotStatus><SnapshotSource>automated</SnapshotSource><Engine>redis</Engine><NodeSnapshots><NodeSnapshot><CacheClusterId>${CACHE_GROUP}-001</CacheClusterId><CacheSize>6 MB</CacheSize><SnapshotCreateTime>${iso(r.snapshotAgeMinutes)}</SnapshotCreateTime></NodeSnapshot></NodeSnapshots></Snapshot></Snapshots></DescribeSnapshotsResult><ResponseMetadata><RequestId>5d3f7a1c-8b9e-4c2d-a1f0-6e7d8c9b0a1f</RequestId></ResponseMetadata></DescribeSnapshotsResponse>`,
      };
    return undefined;
  };
}
