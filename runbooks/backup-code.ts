/**
 * Code backup (the plan's code-backup.sh, fixed): a `git bundle` of every ref (full history,
 * not a tarball of HEAD) uploaded with SHA-256 checksums and verified by cloning from it; and,
 * instead of `docker save` tarballs, a check that ECR replication put every image tag of the
 * stack's repositories into the peer region with the same digest.
 *
 * Scheduled, the job mirrors the application's repository first (`--repository-url`, with a
 * read-only token from Secrets Manager given by `--repository-token-secret`).
 *
 *   node runbooks/backup-code.ts --stack prod --repo .
 *   node runbooks/backup-code.ts --stack prod --repository-url https://github.com/eventchain/eventchain.git \
 *     --repository-token-secret arn:aws:secretsmanager:…:secret:eventchain/backup/github-read-token
 */
import { existsSync } from "node:fs";
import { rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { ECRClient } from "@aws-sdk/client-ecr";
import { GetSecretValueCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { backupJobSinks } from "./aws/alert-topic-sinks.ts";
import {
  bundleRepository,
  compareImageTags,
  mirrorRepository,
  parseGitToken,
  verifyBundle,
} from "./platform/code-bundle.ts";
import type { ArtifactManifest } from "./postgres/manifest.ts";
import { BackupS3Client, verifyObject } from "./aws/s3-object.ts";
import { BadInputError } from "./lib/errors.ts";
import { isMain, runCli } from "./lib/cli.ts";
import { stringOption, withDefaults } from "./lib/options.ts";
import { stepFor, type OptionSpec, type RawOptions, type RunContext, type Runbook } from "./lib/types.ts";

export interface BackupCodeOptions {
  /** A local repository to bundle, or (with `repositoryUrl`) undefined: the run mirrors the remote first. */
  repo: string | undefined;
  repositoryUrl: string | undefined;
  tokenSecretArn: string | undefined;
  checkImages: boolean;
}

export const BACKUP_CODE_OPTIONS = {
  repo: { type: "string", description: "Path of the git repository to back up", default: "." },
  "repository-url": {
    type: "string",
    description: "Mirror this https:// repository and back it up instead of a local one (the scheduled job)",
  },
  "repository-token-secret": {
    type: "string",
    description: "Secrets Manager ARN of a read-only token for --repository-url (never logged)",
  },
  "skip-images": { type: "boolean", description: "Do not compare ECR image tags between the regions" },
} satisfies Record<string, OptionSpec>;

/** Pure: `url` with any `user:password@` replaced by `***@`, so a refusal never repeats a credential. */
export function hideUserinfo(url: string): string {
  return url.replace(/^([A-Za-z][A-Za-z0-9+.-]*:\/\/)[^/?#]*@/, "$1***@");
}

export function parseBackupCodeOptions(raw: RawOptions): BackupCodeOptions {
  const url = raw["repository-url"];
  const secret = raw["repository-token-secret"];
  if (url !== undefined) {
    if (typeof url !== "string" || !/^https:\/\/[A-Za-z0-9.-]+(:\d+)?\/[A-Za-z0-9._/-]+$/.test(url))
      throw new BadInputError(
        `invalid --repository-url "${hideUserinfo(String(url))}": expected an https:// git URL without credentials (the token comes from --repository-token-secret)`,
      );
    if (raw.repo !== undefined)
      throw new BadInputError(
        "--repo and --repository-url exclude each other: bundle a local repository or mirror a remote one",
      );
  }
  if (secret !== undefined) {
    if (url === undefined) throw new BadInputError("--repository-token-secret needs --repository-url");
    if (
      typeof secret !== "string" ||
      !/^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:[A-Za-z0-9/_+=.@-]+$/.test(secret)
    )
      throw new BadInputError(
        `invalid --repository-token-secret "${String(secret)}": expected a Secrets Manager secret ARN`,
      );
  }
  const checkImages = raw["skip-images"] !== true;
  if (typeof url === "string")
    return { repo: undefined, repositoryUrl: url, tokenSecretArn: secret as string | undefined, checkImages };
  const repo = resolve(stringOption(withDefaults(BACKUP_CODE_OPTIONS, raw), "repo", "the path of a git repository"));
  if (!existsSync(join(repo, ".git")) && !existsSync(join(repo, "HEAD")))
    throw new BadInputError(
      `invalid --repo "${repo}": expected a git repository (a directory with .git, or a bare repository)`,
    );
  return { repo, repositoryUrl: undefined, tokenSecretArn: undefined, checkImages };
}

type Ctx = RunContext<BackupCodeOptions>;
const s3Of = (ctx: Ctx) => ctx.aws(BackupS3Client, ctx.outputs.region);
type Uploaded = { backupId: string; object: ArtifactManifest["objects"][number]; refs: Record<string, string> };

const step = stepFor<BackupCodeOptions>();

const bundleAndUpload = step({
  id: "bundle-and-upload",
  dependsOn: [],
  title: "Bundle every ref of the repository and stream it into the backup bucket",
  describe: (ctx) => [
    ...(ctx.options.repositoryUrl
      ? [
          ...(ctx.options.tokenSecretArn
            ? [
                {
                  kind: "aws" as const,
                  action: `secretsmanager:GetSecretValue (${ctx.outputs.region})`,
                  detail: { SecretId: ctx.options.tokenSecretArn },
                },
              ]
            : []),
          { kind: "command" as const, action: `git clone --mirror ${ctx.options.repositoryUrl} <scratch>` },
        ]
      : []),
    { kind: "command", action: `git -C ${ctx.options.repo ?? "<mirror>"} bundle create - --all` },
    {
      kind: "aws",
      action: `s3:CreateMultipartUpload/UploadPart/CompleteMultipartUpload (${ctx.outputs.region})`,
      detail: {
        Bucket: ctx.outputs.backup.bucketName,
        Key: `${ctx.outputs.backup.prefixes.code}<backup id>/repository.bundle`,
      },
    },
  ],
  async run(ctx): Promise<Uploaded & { source: string | undefined }> {
    let repoDir = ctx.options.repo;
    let mirror: string | undefined;
    if (ctx.options.repositoryUrl) {
      const arn = ctx.options.tokenSecretArn;
      const token = arn
        ? parseGitToken(
            (await ctx.aws(SecretsManagerClient, arn.split(":")[3]!).send(new GetSecretValueCommand({ SecretId: arn })))
              .SecretString ?? "",
            arn,
          )
        : undefined;
      mirror = await ctx.wait("git clone --mirror", () =>
        mirrorRepository(ctx.options.repositoryUrl!, tmpdir(), token),
      );
      repoDir = mirror;
    }
    try {
      const m = await ctx.wait("git bundle → S3", () =>
        bundleRepository({
          repoDir: repoDir!,
          s3: s3Of(ctx),
          bucket: ctx.outputs.backup.bucketName,
          prefix: ctx.outputs.backup.prefixes.code,
          kmsKeyId: ctx.outputs.backup.kmsKeyArn.startsWith("arn:") ? ctx.outputs.backup.kmsKeyArn : undefined,
        }),
      );
      return {
        backupId: m.backupId,
        object: m.objects[0]!,
        refs: m.facts.refs as Uploaded["refs"],
        source: ctx.options.repositoryUrl ?? ctx.options.repo,
      };
    } finally {
      if (mirror) await rm(dirname(mirror), { recursive: true, force: true });
    }
  },
});

const verifyBundleStep = step({
  id: "verify-bundle",
  dependsOn: [bundleAndUpload],
  title: "Read the bundle back, clone from it and compare every ref",
  describe: (ctx) => [
    { kind: "aws", action: `s3:HeadObject + s3:GetObject (${ctx.outputs.region})` },
    { kind: "command", action: "git clone --mirror <bundle>; git bundle verify; git fsck; compare refs" },
  ],
  async run(ctx) {
    const u = ctx.result(bundleAndUpload);
    const check = await verifyObject(s3Of(ctx), { bucket: ctx.outputs.backup.bucketName, ...u.object }, false);
    const problems = [
      ...check.problems,
      ...(await verifyBundle({
        s3: s3Of(ctx),
        bucket: ctx.outputs.backup.bucketName,
        key: u.object.key,
        expectedRefs: u.refs,
      })),
    ];
    if (problems.length) throw new Error(`code backup ${u.backupId} failed verification: ${problems.join("; ")}`);
    return { backupId: u.backupId, refs: Object.keys(u.refs).length };
  },
});

const checkImageReplication = step({
  id: "check-image-replication",
  dependsOn: [],
  title: "Check every image tag is replicated to the peer region with the same digest",
  readOnly: true,
  describe: (ctx) => [
    {
      kind: "aws",
      action: `ecr:DescribeImages (${ctx.outputs.region} and ${ctx.outputs.peerRegion})`,
      detail: { repositories: ctx.outputs.ecrRepositories },
    },
  ],
  async run(ctx) {
    if (!ctx.options.checkImages || ctx.outputs.ecrRepositories.length === 0)
      return { skipped: ctx.options.checkImages ? "the stack exports no ECR repositories" : "--skip-images" };
    const results = await compareImageTags(
      ctx.aws(ECRClient, ctx.outputs.region),
      ctx.aws(ECRClient, ctx.outputs.peerRegion),
      ctx.outputs.ecrRepositories,
    );
    const bad = results.filter((r) => r.missingInReplica.length || r.digestMismatch.length);
    if (bad.length) {
      throw new Error(
        `image replication to ${ctx.outputs.peerRegion} is incomplete: ${bad.map((r) => `${r.repository} missing [${r.missingInReplica.join(", ")}] different [${r.digestMismatch.join(", ")}]`).join("; ")}`,
      );
    }
    return { repositories: results.map((r) => ({ repository: r.repository, tags: r.primaryTags })) };
  },
});

const steps = [bundleAndUpload, verifyBundleStep, checkImageReplication];

export const runbook: Runbook<BackupCodeOptions> = {
  name: "backup-code",
  summary: "git bundle of every ref to the backup bucket (verified by cloning), and an ECR replication check",
  system: "code-and-images",
  options: BACKUP_CODE_OPTIONS,
  parseOptions: parseBackupCodeOptions,
  steps,
};

if (isMain(import.meta.url)) await runCli(runbook, { sinks: backupJobSinks });
