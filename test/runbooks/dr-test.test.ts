import test from "ava";
import { CreateBucketCommand } from "@aws-sdk/client-s3";
import { checkApplication, throwawayCopy, type KubeRaw } from "../../runbooks/platform/app-check.ts";
import { backupDatabase } from "../../runbooks/postgres/logical.ts";
import { localOutputs } from "../../runbooks/local/outputs.ts";
import { BackupS3Client } from "../../runbooks/aws/s3-object.ts";
import { runbook as drTest } from "../../runbooks/dr-test.ts";
import { useMoto } from "../helpers/moto.ts";
import { postgresFor, seededDatabase } from "../helpers/postgres.ts";
import { runRunbook, workspace } from "../helpers/run-runbook.ts";

const moto = useMoto(test);

/** The application's Deployment as the API server returns it (recorded from the EKS cluster, trimmed). */
const SOURCE = {
  metadata: {
    name: "eventchain-backend",
    namespace: "eventchain",
    labels: { app: "backend" },
    uid: "1f2e",
    resourceVersion: "88231",
  },
  spec: {
    replicas: 3,
    selector: { matchLabels: { app: "backend" } },
    template: {
      metadata: { labels: { app: "backend" } },
      spec: {
        containers: [
          {
            name: "backend",
            image: "123456789012.dkr.ecr.us-east-1.amazonaws.com/eventchain/backend:v42",
            ports: [{ containerPort: 3001 }],
          },
        ],
      },
    },
  },
  status: { availableReplicas: 3 },
};

/**
 * A stateful fake of the Kubernetes API (the calls dr-test makes through `kubectl --raw`):
 * namespaces, deployments that become available after `readyAfter` polls (never if -1), pods,
 * and the pod proxy answering the health path.
 */
function fakeApi(o: { readyAfter: number; failCreateDeployment?: boolean }) {
  const namespaces = new Map<string, unknown>([["eventchain", {}]]);
  const deployments = new Map<string, Record<string, unknown>>([["eventchain/eventchain-backend", SOURCE]]);
  let polls = 0;
  const calls: string[] = [];
  const kube: KubeRaw = {
    async get(path) {
      calls.push(`GET ${path}`);
      let m = path.match(/^\/apis\/apps\/v1\/namespaces\/([^/]+)\/deployments\/([^/]+)$/);
      if (m) {
        const d = deployments.get(`${m[1]}/${m[2]}`);
        if (!d) throw new Error("NotFound");
        if (m[1] === "eventchain") return d;
        polls++;
        return { ...d, status: { availableReplicas: o.readyAfter >= 0 && polls > o.readyAfter ? 1 : 0 } };
      }
      m = path.match(/^\/api\/v1\/namespaces\/([^/?]+)\/pods\?labelSelector=/);
      if (m) return { items: [{ metadata: { name: "eventchain-backend-7c9d-x1" } }] };
      if (/\/pods\/eventchain-backend-7c9d-x1:3001\/proxy\/health$/.test(path)) return { status: "ok" };
      m = path.match(/^\/api\/v1\/namespaces\/([^/]+)$/);
      if (m && namespaces.has(m[1]!)) return { metadata: { name: m[1] } };
      throw new Error(`NotFound: ${path}`);
    },
    async create(path, body) {
      calls.push(`POST ${path}`);
      const b = body as { metadata: { name: string; namespace?: string } };
      if (path === "/api/v1/namespaces") namespaces.set(b.metadata.name, b);
      else {
        if (o.failCreateDeployment) throw new Error("POST failed: admission webhook denied the request");
        deployments.set(`${b.metadata.namespace}/${b.metadata.name}`, b as Record<string, unknown>);
      }
      return body;
    },
    async delete(path) {
      calls.push(`DELETE ${path}`);
      const name = path.split("/").pop()!;
      for (const k of [...deployments.keys()]) if (k.startsWith(`${name}/`)) deployments.delete(k);
      return namespaces.delete(name);
    },
  };
  return { kube, namespaces, calls };
}

const noSleep = async () => {};

test("application check (fake API): deploys a copy, health-checks it and deletes the throwaway namespace", async (t) => {
  const api = fakeApi({ readyAfter: 2 });
  const r = await checkApplication({
    kube: api.kube,
    sourceNamespace: "eventchain",
    deployment: "eventchain-backend",
    runId: "dr-test-20261124t1600-abc",
    sleep: noSleep,
  });
  t.deepEqual(r.problems, []);
  t.true(r.available);
  t.is(r.health?.pod, "eventchain-backend-7c9d-x1");
  t.true(r.namespaceDeleted);
  t.deepEqual([...api.namespaces.keys()], ["eventchain"], "only the application's own namespace remains");
});

test("application check (fake API): a deployment that never becomes available is reported and its namespace still deleted", async (t) => {
  const api = fakeApi({ readyAfter: -1 });
  const r = await checkApplication({
    kube: api.kube,
    sourceNamespace: "eventchain",
    deployment: "eventchain-backend",
    runId: "run-2",
    attempts: 3,
    sleep: noSleep,
  });
  t.false(r.available);
  t.regex(r.problems.join(), /did not become available/);
  t.deepEqual([...api.namespaces.keys()], ["eventchain"]);
});

test("application check (fake API): a failing deployment still deletes the namespace", async (t) => {
  const api = fakeApi({ readyAfter: 0, failCreateDeployment: true });
  await t.throwsAsync(
    checkApplication({
      kube: api.kube,
      sourceNamespace: "eventchain",
      deployment: "eventchain-backend",
      runId: "run-3",
      sleep: noSleep,
    }),
    { message: /admission webhook denied/ },
  );
  t.deepEqual([...api.namespaces.keys()], ["eventchain"]);
  t.true(api.calls.some((c) => c.startsWith("DELETE /api/v1/namespaces/dr-test-run-3")));
});

test("the throwaway copy keeps the pod template, runs one replica and is labelled as a DR test", (t) => {
  const copy = throwawayCopy(SOURCE, "dr-test-x", "run-x") as {
    metadata: { namespace: string; labels: Record<string, string> };
    spec: { replicas: number; template: unknown };
  };
  t.is(copy.metadata.namespace, "dr-test-x");
  t.is(copy.metadata.labels["eventchain.io/dr-test"], "run-x");
  t.is(copy.spec.replicas, 1);
  t.deepEqual(copy.spec.template, SOURCE.spec.template);
});

test.serial(
  "dr-test --mode database restores the latest backup, verifies it and leaves no scratch database",
  async (t) => {
    const ws = workspace(t);
    const server = await postgresFor(t);
    await seededDatabase(server, "eventchain", 0.05);
    const s3 = new BackupS3Client({ region: "us-east-1", endpoint: moto().endpoint, maxAttempts: 1 });
    const bucket = `drtest-${process.pid}`;
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    await backupDatabase({
      conn: server.connection("eventchain"),
      binDir: server.binDir,
      s3,
      bucket,
      prefix: "database/",
    });
    const outputs = ws.writeOutputs(
      localOutputs({ instanceIdentifier: "test-primary", dbName: "eventchain", port: server.port, bucketName: bucket }),
    );
    const saved = { ...process.env };
    Object.assign(process.env, server.env("postgres"));
    t.teardown(() => {
      for (const k of ["PGHOST", "PGPORT", "PGUSER", "PGPASSWORD", "PGDATABASE"])
        if (saved[k] === undefined) delete process.env[k];
    });
    const r = await runRunbook(
      drTest,
      ["--outputs", outputs, "--state-dir", ws.stateDir, "--mode", "database", "--connection", "env"],
      { aws: { endpoint: moto().endpoint, maxAttempts: 1 } },
    );
    t.is(r.exitCode, 0, r.stderr + r.message);
    t.deepEqual(await server.query("SELECT datname FROM pg_database WHERE datname LIKE 'eventchain_verify_%'"), []);
  },
);

test("dr-test refuses an unknown mode before doing anything", async (t) => {
  const ws = workspace(t);
  const outputs = ws.writeOutputs(
    localOutputs({ instanceIdentifier: "x", dbName: "eventchain", port: 5432, bucketName: "unused-bucket" }),
  );
  const r = await runRunbook(drTest, ["--outputs", outputs, "--state-dir", ws.stateDir, "--mode", "everything"]);
  t.is(r.exitCode, 2);
  t.regex(r.message, /invalid --mode "everything": expected one of database, application, full/);
  t.deepEqual(ws.runIds(), []);
});

test.serial(
  "dr-test --mode full: database, application (fake kube API), DNS and monitoring all pass and nothing is left behind",
  async (t) => {
    const { seedStacks } = await import("../../runbooks/local/aws-seed.ts");
    const { statefulKube } = await import("../helpers/fake-kube.ts");
    const { CloudWatchClient, PutMetricAlarmCommand } = await import("@aws-sdk/client-cloudwatch");
    const ws = workspace(t);
    const endpoint = moto().endpoint;
    const seeded = await seedStacks(endpoint, { copySnapshotToDr: false });
    const outputs = {
      ...seeded.prod,
      kubernetes: {
        enabled: true,
        namespace: "eventchain",
        appDeployment: "eventchain-backend",
        cronJobs: [],
        serviceAccountRoleArn: null,
      },
    };
    // What the stack declares and region-failover ensures: the error-rate alarm on the alert topic.
    await new CloudWatchClient({ region: "us-east-1", endpoint, maxAttempts: 1 }).send(
      new PutMetricAlarmCommand({
        AlarmName: outputs.services.errorRateAlarmName,
        MetricName: "ErrorRate",
        Namespace: "EventChain",
        Statistic: "Average",
        Period: 300,
        Threshold: 5,
        ComparisonOperator: "GreaterThanThreshold",
        EvaluationPeriods: 2,
        AlarmActions: [outputs.alerts.topicArn],
      }),
    );
    const server = await postgresFor(t);
    await seededDatabase(server, "eventchain", 0.05);
    const s3 = new BackupS3Client({ region: "us-east-1", endpoint, maxAttempts: 1 });
    await s3.send(new CreateBucketCommand({ Bucket: outputs.backup.bucketName }));
    await backupDatabase({
      conn: server.connection("eventchain"),
      binDir: server.binDir,
      s3,
      bucket: outputs.backup.bucketName,
      prefix: outputs.backup.prefixes.database,
    });
    const kube = await statefulKube(t, { readyAfter: 1, source: SOURCE });
    const saved = { ...process.env };
    Object.assign(process.env, server.env("postgres"));
    t.teardown(() => {
      for (const k of ["PGHOST", "PGPORT", "PGUSER", "PGPASSWORD", "PGDATABASE"])
        if (saved[k] === undefined) delete process.env[k];
    });
    const r = await runRunbook(
      drTest,
      [
        "--outputs",
        ws.writeOutputs(outputs),
        "--state-dir",
        ws.stateDir,
        "--mode",
        "full",
        "--kubeconfig",
        kube.kubeconfig,
        "--connection",
        "env",
      ],
      { aws: { endpoint, maxAttempts: 1 } },
    );
    t.is(r.exitCode, 0, r.stderr + r.message);
    t.deepEqual(
      r.report!.steps.map((s) => [s.id, s.status]),
      [
        ["database", "succeeded"],
        ["application", "succeeded"],
        ["dns", "succeeded"],
        ["monitoring", "succeeded"],
      ],
    );
    t.deepEqual([...kube.namespaces], ["eventchain"], "the throwaway namespace is gone");
    t.true(kube.calls.some((c) => /^DELETE \/api\/v1\/namespaces\/dr-test-/.test(c)));
    t.deepEqual(await server.query("SELECT datname FROM pg_database WHERE datname LIKE 'eventchain_verify_%'"), []);
  },
);
