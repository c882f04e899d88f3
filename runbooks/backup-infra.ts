/**
 * Infrastructure backup (the plan's infrastructure-backup.sh, fixed): the Pulumi state of this
 * stack and its peer (from the state backend's bucket with `--pulumi-state-bucket`, as the
 * scheduled job does; else `pulumi stack export`), the Kubernetes API resources of the export
 * scope (discovery, CRDs and custom resources included; Secrets only with `--kubernetes-secrets`,
 * KMS-encrypted with the stack's backup key before upload), and the app-config directories
 * (the plan's app_configs archive); each uploaded with SHA-256 checksums and read back.
 * The kubeconfig itself is never archived (it holds credentials).
 *
 *   node runbooks/backup-infra.ts --stack prod --config-dir /etc/eventchain,/opt/eventchain/configs
 */
import { existsSync } from "node:fs";
import { KMSClient } from "@aws-sdk/client-kms";
import { backupJobSinks } from "./aws/alert-topic-sinks.ts";
import {
  backupInfrastructure,
  inCluster,
  inClusterGet,
  kubectlGet,
  stateFromBucket,
  type KubeScope,
} from "./platform/infra-export.ts";
import { BackupS3Client } from "./aws/s3-object.ts";
import { BadInputError } from "./lib/errors.ts";
import { isMain, runCli } from "./lib/cli.ts";
import { stepFor, type RawOptions, type RunContext, type Runbook } from "./lib/types.ts";

export interface BackupInfraOptions {
  kubeconfig: string | undefined;
  context: string | undefined;
  configDirs: string[];
  skipKubernetes: boolean;
  /** Read the Pulumi state from this bucket (the job) instead of `pulumi stack export`. */
  pulumiStateBucket: string | undefined;
  /** What to read from Kubernetes. */
  kubeScope: KubeScope;
}

const LIST = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?(,[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?)*$/;

export function parseBackupInfraOptions(raw: RawOptions): BackupInfraOptions {
  const configDirs =
    typeof raw["config-dir"] === "string"
      ? raw["config-dir"]
          .split(",")
          .map((d) => d.trim())
          .filter(Boolean)
      : [];
  for (const d of configDirs) {
    if (!d.startsWith("/") || !existsSync(d))
      throw new BadInputError(`invalid --config-dir "${d}": expected an absolute path of an existing directory`);
    if (/\.kube(\/|$)/.test(d))
      throw new BadInputError(
        `invalid --config-dir "${d}": kubeconfig directories hold credentials and are not archived`,
      );
  }
  const kubeconfig = typeof raw.kubeconfig === "string" ? raw.kubeconfig : undefined;
  if (kubeconfig && !existsSync(kubeconfig))
    throw new BadInputError(`invalid --kubeconfig "${kubeconfig}": expected an existing file`);
  const bucket = raw["pulumi-state-bucket"];
  if (bucket !== undefined && (typeof bucket !== "string" || !/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket)))
    throw new BadInputError(`invalid --pulumi-state-bucket "${String(bucket)}": expected an S3 bucket name`);
  const groups = raw["kubernetes-api-groups"];
  if (groups !== undefined && (typeof groups !== "string" || !LIST.test(groups)))
    throw new BadInputError(
      `invalid --kubernetes-api-groups "${String(groups)}": expected comma-separated API group names such as apps,batch`,
    );
  const secrets = raw["kubernetes-secrets"] === true;
  return {
    kubeconfig,
    context: typeof raw.context === "string" ? raw.context : undefined,
    configDirs,
    skipKubernetes: raw["skip-kubernetes"] === true,
    pulumiStateBucket: bucket,
    kubeScope: typeof groups === "string" ? { apiGroups: groups.split(","), secrets } : { apiGroups: "all", secrets },
  };
}

type Ctx = RunContext<BackupInfraOptions>;

const step = stepFor<BackupInfraOptions>();

const exportAndUpload = step({
  id: "export-and-upload",
  dependsOn: [],
  title: "Export both stacks, the Kubernetes API resources and the config directories; upload and read each back",
  describe: (ctx) => [
    ctx.options.pulumiStateBucket
      ? {
          kind: "aws" as const,
          action: `s3:GetObject (${ctx.outputs.region})`,
          detail: {
            Bucket: ctx.options.pulumiStateBucket,
            Keys: [ctx.outputs.stack, ctx.outputs.peerStack].map((s) => `.pulumi/stacks/eventchain-dr/${s}.json`),
          },
        }
      : {
          kind: "command" as const,
          action: `pulumi stack export --stack ${ctx.outputs.stack}; pulumi stack export --stack ${ctx.outputs.peerStack}`,
        },
    ...(ctx.outputs.kubernetes.enabled && !ctx.options.skipKubernetes
      ? [
          {
            kind: "command" as const,
            action:
              `${ctx.options.kubeconfig || !inCluster() ? "kubectl get --raw" : "GET (in-cluster, service-account token)"} ` +
              `/api, /apis, /api(s)/<group version> (discovery), then every listable resource of the scope across ` +
              `all namespaces`,
            detail: {
              apiGroups:
                ctx.options.kubeScope.apiGroups === "all"
                  ? "all (the caller's rights)"
                  : ctx.options.kubeScope.apiGroups,
              secrets: ctx.options.kubeScope.secrets,
            },
          },
          ...(ctx.options.kubeScope.secrets
            ? [
                {
                  kind: "aws" as const,
                  action: `kms:GenerateDataKey (${ctx.outputs.region})`,
                  detail: { KeyId: ctx.outputs.backup.kmsKeyArn, for: "Secrets" },
                },
              ]
            : []),
        ]
      : [{ kind: "note" as const, action: "Kubernetes skipped (the stack runs no cluster, or --skip-kubernetes)" }]),
    ...(ctx.options.configDirs.length
      ? [{ kind: "command" as const, action: `tar -czPf - ${ctx.options.configDirs.join(" ")}` }]
      : []),
    {
      kind: "aws",
      action: `s3:PutObject/UploadPart + s3:HeadObject + s3:GetObject (${ctx.outputs.region})`,
      detail: { Bucket: ctx.outputs.backup.bucketName, Prefix: ctx.outputs.backup.prefixes.infrastructure },
    },
  ],
  async run(ctx: Ctx) {
    const k8s = ctx.outputs.kubernetes.enabled && !ctx.options.skipKubernetes;
    const s3 = ctx.aws(BackupS3Client, ctx.outputs.region);
    const kube = !k8s
      ? undefined
      : ctx.options.kubeconfig || !inCluster()
        ? kubectlGet({ kubeconfig: ctx.options.kubeconfig, context: ctx.options.context })
        : inClusterGet(process.env, process.env.KUBERNETES_SERVICEACCOUNT_DIR);
    const manifest = await ctx.wait("exports → S3", () =>
      backupInfrastructure({
        s3,
        kms: ctx.aws(KMSClient, ctx.outputs.region),
        bucket: ctx.outputs.backup.bucketName,
        prefix: ctx.outputs.backup.prefixes.infrastructure,
        kmsKeyId: ctx.outputs.backup.kmsKeyArn,
        stacks: [ctx.outputs.stack, ctx.outputs.peerStack],
        ...(ctx.options.pulumiStateBucket ? { exportStack: stateFromBucket(s3, ctx.options.pulumiStateBucket) } : {}),
        ...(kube ? { kube, kubeScope: ctx.options.kubeScope } : {}),
        configDirs: ctx.options.configDirs,
      }),
    );
    const notExported = (manifest.facts.kubernetes as { notExported?: string[] } | undefined)?.notExported ?? [];
    if (notExported.length)
      ctx.log.warn(
        `not exported (outside the export scope; add their groups to kubernetes.exportApiGroups to back them up): ${notExported.join(", ")}`,
      );
    return {
      backupId: manifest.backupId,
      objects: manifest.objects.map((o) => ({ name: o.name, key: o.key, bytes: o.bytes, sha256: o.sha256 })),
      facts: manifest.facts,
    };
  },
});

const steps = [exportAndUpload];

export const runbook: Runbook<BackupInfraOptions> = {
  name: "backup-infra",
  summary:
    "Pulumi state of both stacks, the Kubernetes API resources (Secrets only if asked, KMS-encrypted) and the app-config directories to the backup bucket",
  system: "code-and-images",
  options: {
    kubeconfig: { type: "string", description: "kubeconfig for the cluster (default kubectl's own)" },
    context: { type: "string", description: "kubeconfig context" },
    "config-dir": { type: "string", description: "Comma-separated absolute config directories to archive" },
    "skip-kubernetes": { type: "boolean", description: "Do not export Kubernetes resources" },
    "pulumi-state-bucket": {
      type: "string",
      description: "Read both stacks' state from this S3 state-backend bucket (no Pulumi CLI needed)",
    },
    "kubernetes-api-groups": {
      type: "string",
      description: "Comma-separated API groups to export besides the core group (default all the caller may read)",
    },
    "kubernetes-secrets": {
      type: "boolean",
      description: "Also export Secrets, KMS-encrypted with the stack's backup key",
    },
  },
  parseOptions: parseBackupInfraOptions,
  steps,
};

if (isMain(import.meta.url)) await runCli(runbook, { sinks: backupJobSinks });
