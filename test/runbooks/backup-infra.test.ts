import test from "ava";
import { gunzipSync } from "node:zlib";
import { CreateBucketCommand } from "@aws-sdk/client-s3";
import { CreateKeyCommand, KMSClient } from "@aws-sdk/client-kms";
import {
  backupInfrastructure,
  decryptWithKms,
  discoverResources,
  kubectlGet,
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

test("backup-infra exports both stacks and every resource of a recorded kube API, with Secrets only KMS-encrypted (recorded-response test)", async (t) => {
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
