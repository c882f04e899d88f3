/**
 * Preflight, then act: with something the run would touch missing or unusable in the emulator
 * (deleted, disabled, scheduled for deletion, or named wrongly in the outputs), every incident
 * runbook refuses its dry run and its real run with exit 2, naming the gap, and the emulator is
 * exactly as before — no half-done failover.
 */
import { CloudWatchClient, DeleteAlarmsCommand } from "@aws-sdk/client-cloudwatch";
import test, { type ExecutionContext } from "ava";
import {
  DeleteDBParameterGroupCommand,
  DeleteDBSubnetGroupCommand,
  RDSClient,
  StopDBInstanceCommand,
} from "@aws-sdk/client-rds";
import { DeleteClusterCommand, DeleteServiceCommand, ECSClient } from "@aws-sdk/client-ecs";
import { DeleteSecretCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { DisableKeyCommand, KMSClient } from "@aws-sdk/client-kms";
import type { StackOutputs } from "../../contract/stack-outputs.ts";
import { runbook as regionFailover } from "../../runbooks/region-failover.ts";
import { runbook as failback } from "../../runbooks/failback.ts";
import { runbook as databaseRecovery } from "../../runbooks/database-recovery.ts";
import { runbook as serviceRecovery } from "../../runbooks/service-recovery.ts";
import { runbook as pitr } from "../../runbooks/point-in-time-restore.ts";
import { EXIT } from "../../runbooks/lib/errors.ts";
import type { Runbook } from "../../runbooks/lib/types.ts";
import { DR_REGION, PRIMARY_REGION, SOURCE_DB, type Seeded } from "../../rehearsal/stand-ins/aws-seed.ts";
import { awsFor, useSeededMoto } from "../helpers/moto.ts";
import { runRunbook, workspace } from "../helpers/run-runbook.ts";
import { failOver, primaryDown, proxyFor } from "../helpers/failed-over.ts";

const { moto, seeded, state } = useSeededMoto(test);
const cfg = (region: string) => ({ region, endpoint: moto().endpoint, maxAttempts: 1 });

interface Gap {
  name: string;
  /** Makes the gap: changes the emulator, or returns outputs that name something missing. */
  make: (s: Seeded) => Promise<Record<string, StackOutputs> | void>;
  /** The line the refusal must contain. */
  expect: RegExp;
}

const withDr = (s: Seeded, change: (dr: StackOutputs) => StackOutputs) => ({ ...s.file, dr: change(s.dr) });
const withProd = (s: Seeded, change: (prod: StackOutputs) => StackOutputs) => ({ ...s.file, prod: change(s.prod) });

const failoverGaps: Gap[] = [
  {
    name: "the DR subnet group was deleted",
    make: async (s) =>
      void (await new RDSClient(cfg(DR_REGION)).send(
        new DeleteDBSubnetGroupCommand({ DBSubnetGroupName: s.dr.database.subnetGroupName }),
      )),
    expect: /- DB subnet group eventchain-dr-db \(us-west-2\): does not exist/,
  },
  {
    name: "the DR parameter group was deleted",
    make: async (s) =>
      void (await new RDSClient(cfg(DR_REGION)).send(
        new DeleteDBParameterGroupCommand({ DBParameterGroupName: s.dr.database.parameterGroupName }),
      )),
    expect: /- DB parameter group eventchain-dr-pg15 \(us-west-2\): does not exist/,
  },
  {
    name: "the DR KMS key is disabled",
    // (moto wants the bare key id here, not the ARN)
    make: async (s) =>
      void (await new KMSClient(cfg(DR_REGION)).send(
        new DisableKeyCommand({ KeyId: s.dr.database.kmsKeyArn.split("/").pop()! }),
      )),
    expect: /- KMS key arn:aws:kms:us-west-2:\S+: is Disabled, expected Enabled/,
  },
  {
    name: "the DR connection secret is scheduled for deletion",
    make: async (s) =>
      void (await new SecretsManagerClient(cfg(DR_REGION)).send(
        new DeleteSecretCommand({ SecretId: s.dr.database.appConnectionSecretArn, RecoveryWindowInDays: 7 }),
      )),
    expect: /- connection secret arn:aws:secretsmanager:us-west-2:\S+: is scheduled for deletion/,
  },
  {
    name: "the DR connection secret is gone",
    make: async (s) =>
      void (await new SecretsManagerClient(cfg(DR_REGION)).send(
        new DeleteSecretCommand({ SecretId: s.dr.database.appConnectionSecretArn, ForceDeleteWithoutRecovery: true }),
      )),
    expect: /- connection secret arn:aws:secretsmanager:us-west-2:\S+: does not exist \(ResourceNotFoundException\)/,
  },
  {
    name: "the DR cluster was deleted",
    make: async (s) =>
      void (await new ECSClient(cfg(DR_REGION)).send(new DeleteClusterCommand({ cluster: s.dr.services.clusterName }))),
    expect: /- ECS cluster eventchain-dr \(us-west-2\): is INACTIVE, expected ACTIVE/,
  },
  {
    name: "a DR service was deleted",
    make: async (s) =>
      void (await new ECSClient(cfg(DR_REGION)).send(
        new DeleteServiceCommand({
          cluster: s.dr.services.clusterName,
          service: s.dr.services.services[1]!.name,
          force: true,
        }),
      )),
    expect:
      /- ECS service eventchain-frontend-dr in eventchain-dr \(us-west-2\): is (INACTIVE|DRAINING), expected ACTIVE|does not exist/,
  },
  {
    name: "the outputs name a target group that does not exist",
    make: async (s) =>
      withDr(s, (dr) => ({
        ...dr,
        services: {
          ...dr.services,
          services: dr.services.services.map((x, i) =>
            i === 0 ? { ...x, targetGroupArn: x.targetGroupArn.replace(/\/[0-9a-f]+$/, "/0000000000000000") } : x,
          ),
        },
      })),
    expect: /- target group arn:aws:elasticloadbalancing:us-west-2:\S+\/0000000000000000: does not exist/,
  },
  {
    name: "the record name is not in the zone",
    make: async (s) => {
      const moved = { ...s.prod.dns, recordName: "www.eventchain.com" };
      return { prod: { ...s.prod, dns: moved }, dr: { ...s.dr, dns: moved } };
    },
    expect:
      /- CNAME record www\.eventchain\.com \(set primary\) in hosted zone \S+: does not exist: the switch steers an existing failover record and the runbooks never create one/,
  },
  {
    name: "the failover switch's alarm was deleted",
    make: async (s) =>
      void (await new CloudWatchClient(cfg(DR_REGION)).send(
        new DeleteAlarmsCommand({ AlarmNames: [s.dr.failover.switch.alarmName] }),
      )),
    expect: /- failover switch alarm \S+ \(us-west-2\): does not exist/,
  },
];

const primaryDownProxy = (t: ExecutionContext) => proxyFor(t, moto().endpoint, primaryDown);

/** Dry run and real run both refuse with exit 2 naming the gap; nothing in the emulator changes. */
async function refusedBoth<O>(
  t: ExecutionContext,
  runbook: Runbook<O>,
  gap: Gap,
  args: string[],
  endpoint: string,
): Promise<void> {
  const ws = workspace(t);
  const file = ws.writeOutputs((await gap.make(seeded())) ?? seeded().file);
  const before = await state();
  for (const mode of [["--dry-run"], ["--yes"]]) {
    const res = await runRunbook(
      runbook,
      ["--outputs", file, "--stack", "prod", "--state-dir", ws.stateDir, ...args, ...mode],
      { aws: awsFor(endpoint) },
    );
    t.is(res.exitCode, EXIT.badInput, `${gap.name} (${mode[0]}): ${res.stdout}`);
    t.regex(res.stdout, /preflight of \S+ found \d+ gap\(s\) in what it would touch; nothing was changed/);
    t.regex(res.stdout, gap.expect, `${gap.name} (${mode[0]})`);
    t.notRegex(res.stdout, /--resume/, "no resume hint: a resume would refuse again");
    t.deepEqual(await state(), before, `${gap.name} (${mode[0]}): emulator unchanged`);
  }
}

for (const gap of failoverGaps) {
  test.serial(`region-failover refuses before any change when ${gap.name}`, async (t) => {
    const proxy = await primaryDownProxy(t);
    await refusedBoth(t, regionFailover, gap, ["--health-attempts", "1"], proxy.endpoint);
  });
}

test.serial("one refusal names every gap at once", async (t) => {
  const proxy = await primaryDownProxy(t);
  await refusedBoth(
    t,
    regionFailover,
    {
      name: "two gaps",
      make: async (s) => {
        await failoverGaps[0]!.make(s);
        await failoverGaps[5]!.make(s);
      },
      expect: /found 2 gap\(s\)[\s\S]*DB subnet group[\s\S]*ECS cluster eventchain-dr/,
    },
    ["--health-attempts", "1"],
    proxy.endpoint,
  );
});

test.serial("failback refuses before any change when the primary parameter group is missing", async (t) => {
  // After a failover: the DR database exists; the primary region answers again.
  await failOver(t, { moto, seeded });
  await refusedBoth(
    t,
    failback,
    {
      name: "the primary parameter group is missing",
      make: async (s) =>
        withProd(s, (prod) => ({
          ...prod,
          database: { ...prod.database, parameterGroupName: "eventchain-prod-pg15-gone" },
        })),
      expect: /- DB parameter group eventchain-prod-pg15-gone \(us-east-1\): does not exist/,
    },
    ["--writes-stopped", "--health-attempts", "1"],
    moto().endpoint,
  );
});

test.serial("database-recovery refuses before any change when its subnet group or secret is missing", async (t) => {
  await new RDSClient(cfg(PRIMARY_REGION)).send(new StopDBInstanceCommand({ DBInstanceIdentifier: SOURCE_DB }));
  await refusedBoth(
    t,
    databaseRecovery,
    {
      name: "subnet group and secret",
      make: async (s) =>
        withProd(s, (prod) => ({
          ...prod,
          database: {
            ...prod.database,
            subnetGroupName: "eventchain-prod-db-gone",
            appConnectionSecretArn: `${prod.database.appConnectionSecretArn}-gone`,
          },
        })),
      expect:
        /- DB subnet group eventchain-prod-db-gone \(us-east-1\): does not exist[\s\S]*- connection secret \S+-gone: does not exist/,
    },
    ["--health-attempts", "1"],
    moto().endpoint,
  );
});

test.serial("service-recovery refuses before any change when the cluster is missing", async (t) => {
  await refusedBoth(
    t,
    serviceRecovery,
    {
      name: "the cluster is missing",
      make: async (s) =>
        withProd(s, (prod) => ({ ...prod, services: { ...prod.services, clusterName: "eventchain-gone" } })),
      expect: /- ECS cluster eventchain-gone \(us-east-1\): does not exist \(MISSING\)/,
    },
    ["--all"],
    moto().endpoint,
  );
});

test.serial("point-in-time-restore refuses before any change when the source instance is missing", async (t) => {
  await refusedBoth(
    t,
    pitr,
    {
      name: "the source is missing",
      make: async (s) =>
        withProd(s, (prod) => ({
          ...prod,
          database: { ...prod.database, instanceIdentifier: "eventchain-prod-db-gone" },
        })),
      expect:
        /- DB subnet group of source instance eventchain-prod-db-gone \(us-east-1\): source instance eventchain-prod-db-gone does not exist/,
    },
    ["--time", "latest"],
    moto().endpoint,
  );
});
