import test from "ava";
import { CreateBucketCommand } from "@aws-sdk/client-s3";
import { checkApplication, throwawayCopy, type KubeRaw } from "../../runbooks/platform/app-check.ts";
import { backupDatabase } from "../../runbooks/postgres/logical.ts";
import { localOutputs } from "../../rehearsal/stand-ins/local-outputs.ts";
import { BackupS3Client } from "../../runbooks/aws/s3-object.ts";
import { runbook as drTest } from "../../runbooks/dr-test.ts";
import { useMoto } from "../helpers/moto.ts";
import { rdsPostgresFor, seededDatabase } from "../helpers/postgres.ts";
import { runRunbook, workspace } from "../helpers/run-runbook.ts";

const moto = useMoto(test);

/** The production database host, as the application's Deployment and the stack outputs name it. */
const PRODUCTION_HOST = "eventchain-prod-db.abc.us-east-1.rds.amazonaws.com";
/** A restored database (what point-in-time-restore or database-recovery created). */
const RESTORED = {
  host: "eventchain-prod-db-pitr-20260115.abc.us-east-1.rds.amazonaws.com",
  port: 5432,
  name: "eventchain",
};
const COPY = { database: RESTORED, productionHost: PRODUCTION_HOST, stripEnv: ["STRIPE_API_BASE"] };

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
        serviceAccountName: "eventchain-backend",
        containers: [
          {
            name: "backend",
            image: "123456789012.dkr.ecr.us-east-1.amazonaws.com/eventchain/backend:v42",
            ports: [{ containerPort: 3001 }],
            env: [
              { name: "NODE_ENV", value: "production" },
              { name: "DATABASE_HOST", value: PRODUCTION_HOST },
              { name: "DATABASE_PORT", value: "5432" },
              { name: "DATABASE_URL", value: `postgres://app@${PRODUCTION_HOST}:5432/eventchain` },
              { name: "DATABASE_PASSWORD", valueFrom: { secretKeyRef: { name: "backend-db", key: "password" } } },
              { name: "STRIPE_API_BASE", value: "https://api.stripe.com" },
            ],
            envFrom: [{ configMapRef: { name: "backend-config" } }, { secretRef: { name: "backend-secrets" } }],
            volumeMounts: [
              { name: "tls", mountPath: "/etc/tls" },
              { name: "cache", mountPath: "/cache" },
            ],
          },
        ],
        volumes: [
          { name: "tls", secret: { secretName: "backend-tls" } },
          { name: "cache", emptyDir: {} },
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
  const namespaces = new Map<string, unknown>([["eventchain", { metadata: { name: "eventchain" } }]]);
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
      if (m && namespaces.has(m[1]!)) return namespaces.get(m[1]!);
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
    healthPath: "/health",
    sourceNamespace: "eventchain",
    deployment: "eventchain-backend",
    runId: "dr-test-20261124t1600-abc",
    copy: COPY,
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
    healthPath: "/health",
    sourceNamespace: "eventchain",
    deployment: "eventchain-backend",
    runId: "run-2",
    copy: COPY,
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
      healthPath: "/health",
      sourceNamespace: "eventchain",
      deployment: "eventchain-backend",
      runId: "run-3",
      copy: COPY,
      sleep: noSleep,
    }),
    { message: /admission webhook denied/ },
  );
  t.deepEqual([...api.namespaces.keys()], ["eventchain"]);
  t.true(api.calls.some((c) => c.startsWith("DELETE /api/v1/namespaces/dr-test-run-3")));
});

test("the throwaway copy runs the same images on one replica, pointed at the restored database, with production-only settings stripped", (t) => {
  const { manifest, stripped } = throwawayCopy(SOURCE, "dr-test-x", "run-x", COPY);
  const copy = manifest as {
    metadata: { namespace: string; labels: Record<string, string> };
    spec: { replicas: number; template: { spec: any } };
  };
  t.is(copy.metadata.namespace, "dr-test-x");
  t.is(copy.metadata.labels["eventchain.io/dr-test"], "run-x");
  t.is(copy.spec.replicas, 1);
  const pod = copy.spec.template.spec;
  const container = pod.containers[0];
  t.is(container.image, SOURCE.spec.template.spec.containers[0]!.image);
  t.deepEqual(Object.fromEntries(container.env.map((e: { name: string; value: string }) => [e.name, e.value])), {
    NODE_ENV: "production",
    DATABASE_HOST: RESTORED.host,
    DATABASE_PORT: "5432",
    DATABASE_NAME: "eventchain",
  });
  t.deepEqual(container.envFrom, [{ configMapRef: { name: "backend-config" } }]);
  t.deepEqual(pod.volumes, [{ name: "cache", emptyDir: {} }]);
  t.deepEqual(container.volumeMounts, [{ name: "cache", mountPath: "/cache" }]);
  t.is(pod.serviceAccountName, "default");
  t.false(pod.automountServiceAccountToken);
  t.false(JSON.stringify(manifest).includes(PRODUCTION_HOST), "nothing in the copy names the production database");
  t.deepEqual(stripped, {
    env: ["backend/DATABASE_URL", "backend/DATABASE_PASSWORD", "backend/STRIPE_API_BASE"],
    envFrom: ["backend/envFrom[1] (Secret)"],
    volumes: ["tls"],
    serviceAccount: "eventchain-backend",
  });
  t.deepEqual(SOURCE.spec.template.spec.containers[0]!.env.length, 6, "the source is not changed");
});

test("application check (fake API): the production database host is refused and nothing is created", async (t) => {
  const api = fakeApi({ readyAfter: 0 });
  await t.throwsAsync(
    checkApplication({
      kube: api.kube,
      healthPath: "/health",
      sourceNamespace: "eventchain",
      deployment: "eventchain-backend",
      runId: "run-4",
      copy: { ...COPY, database: { ...RESTORED, host: PRODUCTION_HOST.toUpperCase() } },
      sleep: noSleep,
    }),
    {
      message: `refusing to point the throwaway copy at ${PRODUCTION_HOST.toUpperCase()}: that is the production database the application uses; expected the host of a restored database`,
    },
  );
  t.deepEqual(
    api.calls.filter((c) => !c.startsWith("GET")),
    [],
  );
});

test("application check (fake API): a namespace this run did not create is left alone", async (t) => {
  const api = fakeApi({ readyAfter: 0 });
  const create = api.kube.create.bind(api.kube);
  // Someone else's namespace of the same name: the create "succeeds" but the label is not ours.
  api.kube.create = async (path, body) => {
    const b = body as { metadata: { name: string; labels?: Record<string, string> } };
    if (path === "/api/v1/namespaces") return create(path, { ...b, metadata: { name: b.metadata.name } });
    return create(path, body);
  };
  const r = await checkApplication({
    kube: api.kube,
    healthPath: "/health",
    sourceNamespace: "eventchain",
    deployment: "eventchain-backend",
    runId: "run-5",
    copy: COPY,
    sleep: noSleep,
  });
  t.regex(r.problems.join(), /namespace dr-test-run-5 does not carry this run's label: left alone/);
  t.false(api.calls.some((c) => c.startsWith("DELETE")));
});

test.serial(
  "dr-test --mode database restores the latest backup, verifies it and leaves no scratch database",
  async (t) => {
    const ws = workspace(t);
    const server = await rdsPostgresFor(t);
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
    const { seedStacks } = await import("../../rehearsal/stand-ins/aws-seed.ts");
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
    const server = await rdsPostgresFor(t);
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
        "--app-database-host",
        RESTORED.host,
        "--yes",
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

test.serial(
  "dr-test --mode application (fake kube API) asks first, then runs the copy against the restored database and removes only its namespace",
  async (t) => {
    const { statefulKube } = await import("../helpers/fake-kube.ts");
    const ws = workspace(t);
    const outputs = localOutputs({ instanceIdentifier: "x", dbName: "eventchain", port: 5432, bucketName: "unused" });
    const stack = ws.writeOutputs({
      ...outputs,
      database: { ...outputs.database, address: PRODUCTION_HOST },
      kubernetes: {
        enabled: true,
        namespace: "eventchain",
        appDeployment: "eventchain-backend",
        cronJobs: [],
        serviceAccountRoleArn: null,
      },
    });
    const kube = await statefulKube(t, { readyAfter: 1, source: SOURCE });
    const argv = [
      "--outputs",
      stack,
      "--state-dir",
      ws.stateDir,
      "--mode",
      "application",
      "--kubeconfig",
      kube.kubeconfig,
      "--app-database-host",
      RESTORED.host,
      "--strip-env",
      "STRIPE_API_BASE",
    ];
    const unconfirmed = await runRunbook(drTest, argv);
    t.is(unconfirmed.exitCode, 4, unconfirmed.message);
    t.deepEqual(kube.created, [], "nothing is deployed before the operator agrees");

    const r = await runRunbook(drTest, [...argv, "--yes"]);
    t.is(r.exitCode, 0, r.stderr + r.message);
    t.is(kube.created.length, 1);
    const pod = (kube.created[0] as { spec: { template: { spec: any } } }).spec.template.spec;
    const env = Object.fromEntries(
      pod.containers[0].env.map((e: { name: string; value: string }) => [e.name, e.value]),
    );
    t.is(env.DATABASE_HOST, RESTORED.host);
    t.is(env.DATABASE_NAME, "eventchain");
    t.false("STRIPE_API_BASE" in env);
    t.false(JSON.stringify(kube.created[0]).includes(PRODUCTION_HOST));
    t.is(pod.serviceAccountName, "default");
    t.deepEqual([...kube.namespaces], ["eventchain"], "the throwaway namespace is gone, the application's remains");
    t.deepEqual(
      kube.calls.filter((c) => c.startsWith("DELETE")).map((c) => c.replace(/dr-test-.*/, "dr-test-<run>")),
      ["DELETE /api/v1/namespaces/dr-test-<run>"],
    );
  },
);

test("dr-test --mode application without a restored database host is refused before anything runs", async (t) => {
  const ws = workspace(t);
  const outputs = ws.writeOutputs(
    localOutputs({ instanceIdentifier: "x", dbName: "eventchain", port: 5432, bucketName: "unused-bucket" }),
  );
  const r = await runRunbook(drTest, ["--outputs", outputs, "--state-dir", ws.stateDir, "--mode", "application"]);
  t.is(r.exitCode, 2);
  t.regex(r.message, /--mode application needs --app-database-host: the host of a restored database/);
  t.deepEqual(ws.runIds(), []);
});
