import test from "ava";
import { CloudWatchClient, ListMetricsCommand, GetMetricStatisticsCommand } from "@aws-sdk/client-cloudwatch";
import { BACKUP_JOB_ENV, JOB_FAILURE_METRIC } from "../../infra/outputs.ts";
import { jobFailureSinks } from "../../runbooks/aws/notify.ts";
import type { Notification } from "../../runbooks/lib/notify.ts";
import { seedStacks, PRIMARY_REGION } from "../../runbooks/local/aws-seed.ts";
import { clientsFor, useMoto } from "../helpers/moto.ts";

const moto = useMoto(test);

const notification = (kind: Notification["kind"]): Notification => ({
  kind,
  runbook: "backup-database",
  runId: "r1",
  stack: "prod",
  subject: `backup-database ${kind}`,
  message: "details",
});

async function jobFailedDatapoints(endpoint: string, job: string): Promise<number> {
  const cw = new CloudWatchClient({ endpoint, region: PRIMARY_REGION, maxAttempts: 1 });
  const now = Date.now();
  const stats = await cw.send(
    new GetMetricStatisticsCommand({
      Namespace: JOB_FAILURE_METRIC.namespace,
      MetricName: JOB_FAILURE_METRIC.metricName,
      Dimensions: [
        { Name: "Job", Value: job },
        { Name: "Stack", Value: "prod" },
      ],
      StartTime: new Date(now - 3_600_000),
      EndTime: new Date(now + 60_000),
      Period: 60,
      Statistics: ["Sum"],
    }),
  );
  return (stats.Datapoints ?? []).reduce((sum, d) => sum + (d.Sum ?? 0), 0);
}

test.serial("a backup job that fails publishes JobFailed for its alarm, and a success publishes nothing", async (t) => {
  const { endpoint } = moto();
  const seeded = await seedStacks(endpoint);
  const [sink] = jobFailureSinks(seeded.prod, clientsFor(endpoint), { [BACKUP_JOB_ENV]: "database-dump" });
  t.truthy(sink);

  await sink!.send(notification("started"));
  await sink!.send(notification("succeeded"));
  t.is(await jobFailedDatapoints(endpoint, "database-dump"), 0);

  await sink!.send(notification("failed"));
  t.is(await jobFailedDatapoints(endpoint, "database-dump"), 1);
  const cw = new CloudWatchClient({ endpoint, region: PRIMARY_REGION, maxAttempts: 1 });
  const listed = await cw.send(new ListMetricsCommand({ Namespace: JOB_FAILURE_METRIC.namespace }));
  t.deepEqual(
    listed.Metrics?.map((m) => m.MetricName),
    [JOB_FAILURE_METRIC.metricName],
  );
});

test.serial("outside a scheduled job the runbook adds no metric sink", (t) => {
  t.deepEqual(
    jobFailureSinks({ region: PRIMARY_REGION, stack: "prod" } as never, clientsFor("http://127.0.0.1:9"), {}),
    [],
  );
});
