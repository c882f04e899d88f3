/**
 * Infrastructure backup (the plan's infrastructure-backup.sh, fixed): `pulumi stack export` of
 * this stack and its peer, every resource the Kubernetes API serves (discovery, CRDs and custom
 * resources included; Secrets KMS-encrypted with the stack's backup key before upload), and the
 * configured config directories; each uploaded with SHA-256 checksums and read back.
 * The kubeconfig itself is never archived (it holds credentials).
 *
 *   npx tsx runbooks/backup-infra.ts --stack prod --config-dir /etc/eventchain,/opt/eventchain/configs
 */
import { existsSync } from "node:fs";
import { KMSClient } from "@aws-sdk/client-kms";
import { backupJobSinks } from "./aws/notify.ts";
import { backupInfrastructure, kubectlGet } from "./platform/infra-export.ts";
import { BackupS3Client } from "./aws/s3-object.ts";
import { BadInputError } from "./lib/errors.ts";
import { isMain, runCli } from "./lib/cli.ts";
import { stepFor, type RawOptions, type RunContext, type Runbook } from "./lib/types.ts";

export interface BackupInfraOptions {
  kubeconfig: string | undefined;
  context: string | undefined;
  configDirs: string[];
  skipKubernetes: boolean;
}

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
  return {
    kubeconfig,
    context: typeof raw.context === "string" ? raw.context : undefined,
    configDirs,
    skipKubernetes: raw["skip-kubernetes"] === true,
  };
}

type Ctx = RunContext<BackupInfraOptions>;

const step = stepFor<BackupInfraOptions>();

const exportAndUpload = step({
  id: "export-and-upload",
  dependsOn: [],
  title: "Export both stacks, the Kubernetes API resources and the config directories; upload and read each back",
  describe: (ctx) => [
    {
      kind: "command",
      action: `pulumi stack export --stack ${ctx.outputs.stack}; pulumi stack export --stack ${ctx.outputs.peerStack}`,
    },
    ...(ctx.outputs.kubernetes.enabled && !ctx.options.skipKubernetes
      ? [
          {
            kind: "command" as const,
            action:
              "kubectl get --raw /api, /apis, /api(s)/<group version> (discovery), then every listable resource across all namespaces",
          },
          {
            kind: "aws" as const,
            action: `kms:GenerateDataKey (${ctx.outputs.region})`,
            detail: { KeyId: ctx.outputs.backup.kmsKeyArn, for: "Secrets" },
          },
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
    const manifest = await ctx.wait("exports → S3", () =>
      backupInfrastructure({
        s3: ctx.aws(BackupS3Client, ctx.outputs.region),
        kms: ctx.aws(KMSClient, ctx.outputs.region),
        bucket: ctx.outputs.backup.bucketName,
        prefix: ctx.outputs.backup.prefixes.infrastructure,
        kmsKeyId: ctx.outputs.backup.kmsKeyArn,
        stacks: [ctx.outputs.stack, ctx.outputs.peerStack],
        ...(k8s ? { kube: kubectlGet({ kubeconfig: ctx.options.kubeconfig, context: ctx.options.context }) } : {}),
        configDirs: ctx.options.configDirs,
      }),
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
    "Pulumi state of both stacks, every Kubernetes API resource (Secrets KMS-encrypted) and config directories to the backup bucket",
  system: "code-and-images",
  options: {
    kubeconfig: { type: "string", description: "kubeconfig for the cluster (default kubectl's own)" },
    context: { type: "string", description: "kubeconfig context" },
    "config-dir": { type: "string", description: "Comma-separated absolute config directories to archive" },
    "skip-kubernetes": { type: "boolean", description: "Do not export Kubernetes resources" },
  },
  parseOptions: parseBackupInfraOptions,
  steps,
};

if (isMain(import.meta.url)) await runCli(runbook, { sinks: backupJobSinks });
