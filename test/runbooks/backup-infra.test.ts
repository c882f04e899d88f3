import test from "ava";
import { gunzipSync, gzipSync } from "node:zlib";
import { CreateBucketCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { CreateKeyCommand, KMSClient } from "@aws-sdk/client-kms";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  backupInfrastructure,
  decryptWithKms,
  discoverResources,
  inClusterGet,
  kubectlGet,
  stateFromBucket,
  type Envelope,
} from "../../runbooks/platform/infra-export.ts";
import { BackupS3Client, downloadStream, getJson } from "../../runbooks/aws/s3-object.ts";
import { fakeKube } from "../helpers/fake-kube.ts";
import { useMoto } from "../helpers/moto.ts";

const moto = useMoto(test);

async function readAll(s3: BackupS3Client, bucket: string, key: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of await downloadStream(s3, bucket, key)) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

test("discovery of a recorded kube API finds every listable resource, CRDs and custom resources, and no subresources", async (t) => {
  const kube = await fakeKube(t);
  const resources = await discoverResources(kubectlGet({ kubeconfig: kube.kubeconfig }));
  const names = resources.map((r) => `${r.groupVersion}/${r.name}`).sort();
  t.deepEqual(names, [
    "apiextensions.k8s.io/v1/customresourcedefinitions",
    "apps/v1/deployments",
    "networking.k8s.io/v1/ingresses",
    "ticketing.eventchain.io/v1/ticketpools",
    "v1/configmaps",
    "v1/namespaces",
    "v1/pods",
    "v1/secrets",
    "v1/services",
  ]);
  t.false(resources.find((r) => r.name === "namespaces")!.namespaced);
});

test("backup-infra exports both stacks and every resource of a recorded kube API, with Secrets (when asked) only KMS-encrypted (recorded-response test)", async (t) => {
  const kube = await fakeKube(t);
  const s3 = new BackupS3Client({ region: "us-east-1", endpoint: moto().endpoint, maxAttempts: 1 });
  const kms = new KMSClient({ region: "us-east-1", endpoint: moto().endpoint, maxAttempts: 1 });
  const bucket = `infra-${process.pid}`;
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  const key = await kms.send(new CreateKeyCommand({ Description: "backup key" }));
  const exported: string[] = [];
  const manifest = await backupInfrastructure({
    s3,
    kms,
    bucket,
    prefix: "infrastructure/",
    kmsKeyId: key.KeyMetadata!.KeyId!,
    stacks: ["prod", "dr"],
    exportStack: async (stack) => {
      exported.push(stack);
      return JSON.stringify({
        version: 3,
        deployment: { resources: [{ urn: `urn:pulumi:${stack}::eventchain-dr::aws:rds/instance:Instance::db` }] },
      });
    },
    kube: kubectlGet({ kubeconfig: kube.kubeconfig }),
    kubeScope: { apiGroups: "all", secrets: true },
  });
  t.deepEqual(exported, ["prod", "dr"]);
  t.deepEqual(
    manifest.objects.map((o) => o.name),
    ["pulumi-prod.json.gz", "pulumi-dr.json.gz", "kubernetes-resources.json.gz", "kubernetes-secrets.json.gz.kms"],
  );
  t.deepEqual(kube.unknown, [], "only recorded paths were requested (no events, no subresources)");

  const resources = JSON.parse(gunzipSync(await readAll(s3, bucket, manifest.objects[2]!.key)).toString()) as {
    items: Record<string, { metadata: Record<string, unknown> }[]>;
  };
  t.is(resources.items["v1/configmaps"]!.length, 2, "both pages of a paged list");
  t.is(resources.items["ticketing.eventchain.io/v1/ticketpools"]![0]!.metadata.name, "summer-festival");
  t.is(resources.items["apiextensions.k8s.io/v1/customresourcedefinitions"]!.length, 1);
  t.is(resources.items["networking.k8s.io/v1/ingresses"]!.length, 1);
  t.false("v1/secrets" in resources.items);
  t.false("v1/events" in resources.items);
  t.false(JSON.stringify(resources).includes("managedFields"));

  const raw = await readAll(s3, bucket, manifest.objects[3]!.key);
  t.false(raw.toString().includes("cG9zdGdyZXM6Ly9zZWNyZXQtcGFzc3dvcmQ="), "secret data is not stored in plaintext");
  const envelope = await getJson<Envelope>(s3, bucket, manifest.objects[3]!.key);
  const secrets = JSON.parse(gunzipSync(await decryptWithKms(kms, envelope)).toString()) as {
    metadata: { name: string };
  }[];
  t.deepEqual(
    secrets.map((s) => s.metadata.name),
    ["backend-db"],
  );
});

test("without the export of Secrets, none is read; outside the scope, resources are listed as not exported", async (t) => {
  const kube = await fakeKube(t);
  const s3 = new BackupS3Client({ region: "us-east-1", endpoint: moto().endpoint, maxAttempts: 1 });
  const kms = new KMSClient({ region: "us-east-1", endpoint: moto().endpoint, maxAttempts: 1 });
  const bucket = `infra-scope-${process.pid}`;
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  const manifest = await backupInfrastructure({
    s3,
    kms,
    bucket,
    prefix: "infrastructure/",
    kmsKeyId: "unused",
    stacks: [],
    kube: kubectlGet({ kubeconfig: kube.kubeconfig }),
    kubeScope: { apiGroups: ["apps", "apiextensions.k8s.io"], secrets: false },
  });
  t.deepEqual(
    manifest.objects.map((o) => o.name),
    ["kubernetes-resources.json.gz"],
  );
  t.false(
    kube.requests.some((p) => p.startsWith("/api/v1/secrets")),
    "Secrets are never requested",
  );
  const facts = manifest.facts.kubernetes as {
    notExported: string[];
    secrets: unknown;
    objects: Record<string, number>;
  };
  t.deepEqual(facts.notExported.sort(), [
    "networking.k8s.io/v1/ingresses",
    "ticketing.eventchain.io/v1/ticketpools",
    "v1/secrets",
  ]);
  t.is(facts.secrets, "not exported (kubernetes.exportSecrets is false)");
  t.deepEqual(Object.keys(facts.objects).sort(), [
    "apiextensions.k8s.io/v1/customresourcedefinitions",
    "apps/v1/deployments",
    "v1/configmaps",
    "v1/namespaces",
    "v1/pods",
    "v1/services",
  ]);
});

test("the Pulumi state is read from the backend bucket (plain or gzipped) and a missing one is named", async (t) => {
  const s3 = new BackupS3Client({ region: "us-east-1", endpoint: moto().endpoint, maxAttempts: 1 });
  const bucket = `pulumi-state-${process.pid}`;
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  const state = (stack: string) =>
    JSON.stringify({ version: 3, checkpoint: { latest: { resources: [{ urn: stack }] } } });
  await s3.send(
    new PutObjectCommand({ Bucket: bucket, Key: ".pulumi/stacks/eventchain-dr/prod.json", Body: state("prod") }),
  );
  await s3.send(
    new PutObjectCommand({
      Bucket: bucket,
      Key: ".pulumi/stacks/eventchain-dr/dr.json.gz",
      Body: gzipSync(state("dr")),
    }),
  );
  const read = stateFromBucket(s3, bucket);
  t.is(await read("prod"), state("prod"));
  t.is(await read("dr"), state("dr"));
  await t.throwsAsync(read("staging"), {
    message: `no Pulumi state for stack "staging" in s3://${bucket}/.pulumi/stacks/eventchain-dr/ (expected staging.json or staging.json.gz): check logicalBackups.pulumiStateBucket`,
  });
  const manifest = await backupInfrastructure({
    s3,
    kms: new KMSClient({ region: "us-east-1", endpoint: moto().endpoint, maxAttempts: 1 }),
    bucket,
    prefix: "infrastructure/",
    kmsKeyId: "unused",
    stacks: ["prod", "dr"],
    exportStack: read,
  });
  t.is(manifest.facts["pulumi:prod:resources"], 1);
  t.is(manifest.facts["pulumi:dr:resources"], 1);
});

test("the API server is read in-cluster with the pod's token, verified against the cluster CA", async (t) => {
  const { inClusterKube } = await import("../helpers/fake-kube.ts");
  const kube = await fakeKube(t);
  const cluster = await inClusterKube(t, kube.url);
  const get = inClusterGet(cluster.env, cluster.serviceAccountDir);
  t.deepEqual(((await get("/api")) as { versions: string[] }).versions, ["v1"]);
  t.is(cluster.rejected(), 0);
  await t.throwsAsync(get("/apis/nothing.example/v1"), {
    message: /^GET \/apis\/nothing.example\/v1 answered HTTP 404/,
  });
  const other = await inClusterKube(t, kube.url);
  await t.throwsAsync(
    inClusterGet(cluster.env, other.serviceAccountDir)("/api"),
    { message: /certificate/ },
    "another CA: refused",
  );
  t.is(cluster.rejected(), 0, "no request reached the server without verifying it");
  t.throws(() => inClusterGet(cluster.env, mkdtempSync(join(tmpdir(), "no-ca-"))), { message: /ca\.crt/ });
});
