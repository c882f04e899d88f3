/**
 * Infrastructure backup (the plan's infrastructure-backup.sh, fixed):
 * - the Pulumi state of both stacks (the Pulumi equivalent of the Terraform state copy; secrets
 *   stay encrypted by Pulumi): read from the state backend's bucket when run as a job (no
 *   Pulumi CLI there), or `pulumi stack export` on an operator's machine;
 * - every Kubernetes API resource the cluster serves, found by discovery (`/api`, `/apis`, each
 *   group version's resource list), namespaced and cluster-scoped, CRDs and custom resources
 *   included — not `kubectl get all`, which misses ConfigMaps, Secrets, Ingresses and CRDs.
 *   Requests go through `kubectl get --raw` (the kubeconfig's auth applies), or, inside the
 *   cluster, straight to the API server with the pod's service-account token. Only the export
 *   scope is read (`contract/kubernetes-export-scope.ts`, the same scope the job's RBAC role
 *   grants); Secrets only when asked for, envelope-encrypted (KMS data key, AES-256-GCM) with
 *   the stack's backup key before they leave the machine;
 * - configured config directories as a tar.gz stream (no kubeconfig: it holds credentials).
 * Each artifact is uploaded with SHA-256 checksums and verified by reading it back.
 */
import { spawn } from "node:child_process";
import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { request } from "node:https";
import { join } from "node:path";
import { Readable } from "node:stream";
import { gunzipSync, gzipSync } from "node:zlib";
import { DecryptCommand, GenerateDataKeyCommand, type KMSClient } from "@aws-sdk/client-kms";
import type { S3Client } from "@aws-sdk/client-s3";
import { $ } from "zx";
import pLimit from "p-limit";
import { GetObjectCommand, NoSuchKey } from "@aws-sdk/client-s3";
import { inExportScope, type ExportScope } from "../../contract/kubernetes-export-scope.ts";
import { MANIFEST_VERSION, manifestKey, type ArtifactManifest } from "../postgres/manifest.ts";
import { newBackupId } from "../postgres/logical.ts";
import { uploadStream, verifyObject, type UploadedObject } from "../aws/s3-object.ts";

/** Reads a raw API path (e.g. `/apis`) and parses the JSON. */
export type KubeGet = (path: string) => Promise<unknown>;

/** `kubectl get --raw <path>` with an optional kubeconfig/context. */
export function kubectlGet(opts: { kubeconfig?: string; context?: string } = {}): KubeGet {
  return async (path) => {
    const args = [
      ...(opts.kubeconfig ? ["--kubeconfig", opts.kubeconfig] : []),
      ...(opts.context ? ["--context", opts.context] : []),
      "get",
      "--raw",
      path,
    ];
    const r = await $({ quiet: true, nothrow: true })`kubectl ${args}`;
    if (r.exitCode !== 0)
      throw new Error(`kubectl get --raw ${path} failed: ${r.stderr.trim().split("\n").slice(-2).join(" | ")}`);
    return JSON.parse(r.stdout);
  };
}

/** Where a pod finds its service-account token and the cluster CA (overridable for tests). */
export const SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount";

/** True inside a Kubernetes pod (the kubelet sets these for every container). */
export const inCluster = (env: NodeJS.ProcessEnv = process.env) =>
  Boolean(env.KUBERNETES_SERVICE_HOST && env.KUBERNETES_SERVICE_PORT);

/**
 * Reads the API server from inside a pod: `https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT`,
 * verified against the service account's CA, with its token (re-read on every request: the
 * kubelet rotates it). No kubectl in the image.
 */
export function inClusterGet(env: NodeJS.ProcessEnv = process.env, dir = SERVICE_ACCOUNT_DIR): KubeGet {
  const host = env.KUBERNETES_SERVICE_HOST!;
  const port = Number(env.KUBERNETES_SERVICE_PORT);
  const ca = readFileSync(join(dir, "ca.crt"));
  return (path) =>
    new Promise((resolve, reject) => {
      const token = readFileSync(join(dir, "token"), "utf8").trim();
      const req = request(
        {
          host: host.includes(":") ? `[${host}]` : host,
          port,
          path,
          method: "GET",
          ca,
          headers: { authorization: `Bearer ${token}`, accept: "application/json" },
          timeout: 30_000,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("end", () => {
            const body = Buffer.concat(chunks).toString("utf8");
            if (res.statusCode !== 200) {
              const reason = (() => {
                try {
                  return (JSON.parse(body) as { message?: string }).message ?? body.slice(0, 200);
                } catch {
                  return body.slice(0, 200);
                }
              })();
              return reject(new Error(`GET ${path} answered HTTP ${res.statusCode}: ${reason}`));
            }
            try {
              resolve(JSON.parse(body));
            } catch (error) {
              reject(new Error(`GET ${path}: the answer is not JSON`, { cause: error }));
            }
          });
        },
      );
      req.on("timeout", () => req.destroy(new Error(`GET ${path}: no answer within 30 s`)));
      req.on("error", reject);
      req.end();
    });
}

export interface ApiResource {
  groupVersion: string;
  name: string;
  kind: string;
  namespaced: boolean;
}

/** Resources we do not back up: short-lived records, not configuration. */
export const SKIPPED_RESOURCES = new Set(["v1/events", "events.k8s.io/v1/events"]);

/** Every listable resource the API server serves (discovery), subresources excluded. */
export async function discoverResources(get: KubeGet): Promise<ApiResource[]> {
  const gvs: string[] = [];
  const core = (await get("/api")) as { versions?: string[] };
  gvs.push(...(core.versions ?? []));
  const groups = (await get("/apis")) as { groups?: { preferredVersion?: { groupVersion: string } }[] };
  for (const g of groups.groups ?? []) if (g.preferredVersion) gvs.push(g.preferredVersion.groupVersion);
  const out: ApiResource[] = [];
  for (const gv of gvs) {
    const list = (await get(gv.includes("/") ? `/apis/${gv}` : `/api/${gv}`)) as {
      resources?: { name: string; kind: string; namespaced: boolean; verbs?: string[] }[];
    };
    for (const r of list.resources ?? []) {
      if (r.name.includes("/") || !(r.verbs ?? []).includes("list")) continue;
      if (SKIPPED_RESOURCES.has(`${gv}/${r.name}`)) continue;
      out.push({ groupVersion: gv, name: r.name, kind: r.kind, namespaced: r.namespaced });
    }
  }
  return out;
}

/** Lists every object of a resource across all namespaces (paged), without managedFields. */
export async function listAll(get: KubeGet, r: ApiResource): Promise<Record<string, unknown>[]> {
  const base = r.groupVersion.includes("/") ? `/apis/${r.groupVersion}/${r.name}` : `/api/${r.groupVersion}/${r.name}`;
  const items: Record<string, unknown>[] = [];
  let cont: string | undefined;
  do {
    const page = (await get(`${base}?limit=500${cont ? `&continue=${encodeURIComponent(cont)}` : ""}`)) as {
      items?: Record<string, unknown>[];
      metadata?: { continue?: string };
    };
    for (const item of page.items ?? []) {
      const meta = (item.metadata ?? {}) as Record<string, unknown>;
      delete meta.managedFields;
      items.push({ apiVersion: r.groupVersion, kind: r.kind, ...item });
    }
    cont = page.metadata?.continue || undefined;
  } while (cont);
  return items;
}

export interface Envelope {
  algorithm: "AES-256-GCM";
  kmsKeyId: string;
  encryptedDataKey: string;
  iv: string;
  tag: string;
  ciphertext: string;
}

/** Envelope encryption with a fresh KMS data key; the plaintext key never leaves memory. */
export async function encryptWithKms(kms: KMSClient, kmsKeyId: string, plaintext: Buffer): Promise<Envelope> {
  const key = await kms.send(new GenerateDataKeyCommand({ KeyId: kmsKeyId, KeySpec: "AES_256" }));
  if (!key.Plaintext || !key.CiphertextBlob) throw new Error(`KMS returned no data key for ${kmsKeyId}`);
  const iv = randomBytes(12);
  const cipher = createCipheriv("aes-256-gcm", Buffer.from(key.Plaintext), iv);
  const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  Buffer.from(key.Plaintext).fill(0);
  return {
    algorithm: "AES-256-GCM",
    kmsKeyId,
    encryptedDataKey: Buffer.from(key.CiphertextBlob).toString("base64"),
    iv: iv.toString("base64"),
    tag: cipher.getAuthTag().toString("base64"),
    ciphertext: ciphertext.toString("base64"),
  };
}

export async function decryptWithKms(kms: KMSClient, env: Envelope): Promise<Buffer> {
  const key = await kms.send(
    new DecryptCommand({ CiphertextBlob: Buffer.from(env.encryptedDataKey, "base64"), KeyId: env.kmsKeyId }),
  );
  if (!key.Plaintext) throw new Error("KMS returned no plaintext data key");
  const decipher = createDecipheriv("aes-256-gcm", Buffer.from(key.Plaintext), Buffer.from(env.iv, "base64"));
  decipher.setAuthTag(Buffer.from(env.tag, "base64"));
  return Buffer.concat([decipher.update(Buffer.from(env.ciphertext, "base64")), decipher.final()]);
}

/** The scope of an export: the job's (from config), or `all` of what the caller may read (an operator). */
export type KubeScope = ExportScope | { apiGroups: "all"; secrets: boolean };

const covers = (scope: KubeScope, r: ApiResource): boolean =>
  scope.apiGroups === "all"
    ? !(r.groupVersion === "v1" && r.name === "secrets") || scope.secrets
    : inExportScope(scope as ExportScope, r.groupVersion, r.name);

export interface InfraBackupParams {
  s3: S3Client;
  kms: KMSClient;
  bucket: string;
  prefix: string;
  /** Key that encrypts Secrets (the stack's backup KMS key). */
  kmsKeyId: string;
  /** Stacks to export and how (default: `pulumi stack export --stack <name>`; see `stateFromBucket`). */
  stacks: string[];
  exportStack?: (stack: string) => Promise<string>;
  /** Kubernetes API access; omit when the stack runs no cluster. */
  kube?: KubeGet;
  /** What to read from it (default everything the caller may read, Secrets excluded). */
  kubeScope?: KubeScope;
  /** Config directories to archive (absolute paths). */
  configDirs?: string[];
  backupId?: string;
}

export const pulumiStackExport = async (stack: string): Promise<string> =>
  (await $({ quiet: true })`pulumi stack export --stack ${stack}`).stdout;

/** The Pulumi project whose stacks the export copies (Pulumi.yaml `name`). */
export const PULUMI_PROJECT = "eventchain-dr";

/**
 * A stack's checkpoint read straight from a self-managed (S3) state backend, as a job does: no
 * Pulumi CLI, no backend credentials beyond `s3:GetObject` on `.pulumi/stacks/`. Pulumi keeps
 * project-scoped stacks at `.pulumi/stacks/<project>/<stack>.json` (gzipped as `.json.gz` when
 * PULUMI_SELF_MANAGED_STATE_GZIP is on). Secrets inside stay encrypted by the stack's secrets provider.
 */
export function stateFromBucket(s3: S3Client, bucket: string, project = PULUMI_PROJECT) {
  return async (stack: string): Promise<string> => {
    const base = `.pulumi/stacks/${project}/${stack}.json`;
    for (const [key, gz] of [
      [base, false],
      [`${base}.gz`, true],
    ] as const) {
      try {
        const res = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
        const bytes = Buffer.from(await res.Body!.transformToByteArray());
        return (gz ? gunzipSync(bytes) : bytes).toString("utf8");
      } catch (error) {
        if (error instanceof NoSuchKey || (error as { name?: string }).name === "NoSuchKey") continue;
        throw new Error(`cannot read the Pulumi state s3://${bucket}/${key}: ${(error as Error).message}`, {
          cause: error,
        });
      }
    }
    throw new Error(
      `no Pulumi state for stack "${stack}" in s3://${bucket}/.pulumi/stacks/${project}/ (expected ${stack}.json or ${stack}.json.gz): check logicalBackups.pulumiStateBucket`,
    );
  };
}

/** Resources in a stack export (`deployment.resources`) or a backend checkpoint (`checkpoint.latest.resources`). */
function resourceCount(state: string): number {
  const parsed = JSON.parse(state) as {
    deployment?: { resources?: unknown[] };
    checkpoint?: { latest?: { resources?: unknown[] } };
  };
  return parsed.deployment?.resources?.length ?? parsed.checkpoint?.latest?.resources?.length ?? 0;
}

/** Runs every export, uploads each artifact, verifies each by reading it back. */
export async function backupInfrastructure(p: InfraBackupParams): Promise<ArtifactManifest> {
  const backupId = p.backupId ?? newBackupId();
  const startedAt = new Date().toISOString();
  const objects: ArtifactManifest["objects"] = [];
  const facts: Record<string, unknown> = {};
  const put = async (name: string, body: Readable | Buffer, contentType: string): Promise<UploadedObject> => {
    const o = await uploadStream(p.s3, {
      bucket: p.bucket,
      key: `${p.prefix}${backupId}/${name}`,
      body: Buffer.isBuffer(body) ? Readable.from([body]) : body,
      contentType,
      kmsKeyId: p.kmsKeyId.startsWith("arn:") ? p.kmsKeyId : undefined,
    });
    const check = await verifyObject(p.s3, o);
    if (!check.ok) throw new Error(`${name} failed verification after upload: ${check.problems.join("; ")}`);
    objects.push({
      name,
      key: o.key,
      bytes: o.bytes,
      sha256: o.sha256,
      partSha256: o.partSha256,
      s3Checksum: o.s3Checksum,
    });
    return o;
  };
  const exportStack = p.exportStack ?? pulumiStackExport;
  for (const stack of p.stacks) {
    const state = await exportStack(stack);
    const resources = resourceCount(state);
    await put(`pulumi-${stack}.json.gz`, gzipSync(state), "application/gzip");
    facts[`pulumi:${stack}:resources`] = resources;
  }
  if (p.kube) {
    const scope: KubeScope = p.kubeScope ?? { apiGroups: "all", secrets: false };
    const discovered = await discoverResources(p.kube);
    const resources = discovered.filter((r) => covers(scope, r));
    const notExported = discovered.filter((r) => !covers(scope, r)).map((r) => `${r.groupVersion}/${r.name}`);
    const limit = pLimit(4);
    const lists = await Promise.all(resources.map((r) => limit(async () => ({ r, items: await listAll(p.kube!, r) }))));
    const plain: Record<string, unknown[]> = {};
    const secrets: unknown[] = [];
    for (const { r, items } of lists) {
      if (r.groupVersion === "v1" && r.name === "secrets") secrets.push(...items);
      else plain[`${r.groupVersion}/${r.name}`] = items;
    }
    await put(
      "kubernetes-resources.json.gz",
      gzipSync(JSON.stringify({ resources, items: plain })),
      "application/gzip",
    );
    if (scope.secrets) {
      // Read back by `put` (size and SHA-256); decrypting it takes an operator's role: the job's
      // role may use the backup key for data keys but cannot decrypt outside S3.
      const envelope = await encryptWithKms(p.kms, p.kmsKeyId, gzipSync(JSON.stringify(secrets)));
      await put("kubernetes-secrets.json.gz.kms", Buffer.from(JSON.stringify(envelope)), "application/json");
    }
    facts.kubernetes = {
      resourceTypes: resources.length,
      objects: Object.fromEntries(Object.entries(plain).map(([k, v]) => [k, v.length])),
      secrets: scope.secrets ? secrets.length : "not exported (kubernetes.exportSecrets is false)",
      skipped: [...SKIPPED_RESOURCES],
      notExported,
    };
  }
  if (p.configDirs?.length) {
    for (const d of p.configDirs)
      if (!d.startsWith("/")) throw new Error(`invalid config directory "${d}": expected an absolute path`);
    const tar = spawn("tar", ["-czPf", "-", "--", ...p.configDirs], { stdio: ["ignore", "pipe", "pipe"] });
    let stderr = "";
    tar.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<void>((resolve, reject) =>
      tar.on("close", (c) =>
        c === 0 ? resolve() : reject(new Error(`tar of ${p.configDirs!.join(", ")} failed: ${stderr.trim()}`)),
      ),
    );
    await Promise.all([put("config-dirs.tar.gz", tar.stdout, "application/gzip"), exited]);
    facts.configDirs = p.configDirs;
  }
  const manifest: ArtifactManifest = {
    manifestVersion: MANIFEST_VERSION,
    kind: "infrastructure",
    backupId,
    startedAt,
    finishedAt: new Date().toISOString(),
    objects,
    facts,
  };
  await uploadStream(p.s3, {
    bucket: p.bucket,
    key: manifestKey(p.prefix, backupId),
    body: Readable.from([Buffer.from(JSON.stringify(manifest, null, 2))]),
    contentType: "application/json",
  });
  return manifest;
}
