/**
 * Code backup (the plan's code-backup.sh, fixed): `git bundle create - --all` (every branch and
 * tag, full history; a packfile, already compressed) streamed into the bucket with SHA-256
 * checksums; verified by cloning from the downloaded bundle and comparing every ref. Images are
 * not `docker save`d: ECR replication in the stacks copies them, and `compareImageTags` checks
 * the replicated tags match.
 */
import { createWriteStream } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pipeline } from "node:stream/promises";
import { DescribeImagesCommand, type ECRClient } from "@aws-sdk/client-ecr";
import type { S3Client } from "@aws-sdk/client-s3";
import { $ } from "zx";
import type { ArtifactManifest } from "../postgres/manifest.ts";
import { newBackupId } from "../postgres/logical.ts";
import { backupProcessOutput } from "../aws/process-backup.ts";
import { downloadStream } from "../aws/s3-object.ts";

/** A token for git over https, from a secret: a plain string, or JSON `{ "username", "token" }`. */
export interface GitToken {
  username: string;
  token: string;
}

/** Pure: the token in a secret's text (GitHub's convention `x-access-token` when no username is given). */
export function parseGitToken(secret: string, where: string): GitToken {
  const text = secret.trim();
  if (text.startsWith("{")) {
    let doc: { username?: unknown; token?: unknown };
    try {
      doc = JSON.parse(text);
    } catch (error) {
      throw new Error(`secret ${where} looks like JSON but does not parse (value not shown)`, { cause: error });
    }
    if (typeof doc.token !== "string" || doc.token === "")
      throw new Error(
        `secret ${where} has no "token" string: expected a token or { "username", "token" } (value not shown)`,
      );
    return {
      username: typeof doc.username === "string" && doc.username ? doc.username : "x-access-token",
      token: doc.token,
    };
  }
  if (!text) throw new Error(`secret ${where} is empty: expected a read-only token for the repository`);
  return { username: "x-access-token", token: text };
}

/**
 * Environment that hands git a token as an HTTP header for `url` only, through git's
 * GIT_CONFIG_* variables: never in argv, never in the URL, never in git's error messages.
 */
export function gitAuthEnv(url: string, token: GitToken | undefined): Record<string, string> {
  const base = { GIT_TERMINAL_PROMPT: "0", GIT_ASKPASS: "/bin/false" };
  if (!token) return base;
  const basic = Buffer.from(`${token.username}:${token.token}`).toString("base64");
  return {
    ...base,
    GIT_CONFIG_COUNT: "1",
    GIT_CONFIG_KEY_0: `http.${url}.extraHeader`,
    GIT_CONFIG_VALUE_0: `Authorization: Basic ${basic}`,
  };
}

/**
 * Clones every ref of `url` (`git clone --mirror`) into a new directory under `parent`: what the
 * scheduled code bundle backs up. The caller removes the directory.
 */
export async function mirrorRepository(url: string, parent: string, token?: GitToken): Promise<string> {
  const dir = await mkdtemp(join(parent, "eventchain-code-mirror-"));
  const target = join(dir, "repository.git");
  const r = await $({
    quiet: true,
    nothrow: true,
    env: { ...process.env, ...gitAuthEnv(url, token) },
  })`git clone --quiet --mirror -- ${url} ${target}`;
  if (r.exitCode !== 0) {
    await rm(dir, { recursive: true, force: true });
    throw new Error(`git clone --mirror ${url} failed: ${r.stderr.trim().split("\n").slice(-2).join(" | ")}`);
  }
  return target;
}

/** Every ref of a repository: name → commit/object id. */
export async function listRefs(gitDir: string): Promise<Record<string, string>> {
  const r = await $({ quiet: true })`git -C ${gitDir} for-each-ref --format=${"%(refname) %(objectname)"}`;
  const refs: Record<string, string> = {};
  for (const line of r.stdout.split("\n").filter(Boolean)) {
    const [name, id] = line.split(" ");
    if (name && id && !name.startsWith("refs/remotes/") && name !== "refs/stash") refs[name] = id;
  }
  return refs;
}

export async function bundleRepository(p: {
  repoDir: string;
  s3: S3Client;
  bucket: string;
  prefix: string;
  kmsKeyId?: string;
  backupId?: string;
}): Promise<ArtifactManifest> {
  const backupId = p.backupId ?? newBackupId();
  const startedAt = new Date().toISOString();
  const refs = await listRefs(p.repoDir);
  if (Object.keys(refs).length === 0)
    throw new Error(`${p.repoDir} has no refs to back up: expected a git repository with at least one commit`);
  return backupProcessOutput({
    command: "git",
    args: ["-C", p.repoDir, "bundle", "create", "-", "--all"],
    label: "git bundle create",
    s3: p.s3,
    bucket: p.bucket,
    prefix: p.prefix,
    kmsKeyId: p.kmsKeyId,
    backupId,
    startedAt,
    kind: "code",
    name: "repository.bundle",
    contentType: "application/x-git-bundle",
    facts: { refs, refCount: Object.keys(refs).length },
  });
}

/**
 * Downloads the bundle, `git bundle verify`s it and clones a mirror from it; every ref of the
 * manifest must come back with the same id. Returns the problems (empty = good).
 */
export async function verifyBundle(p: {
  s3: S3Client;
  bucket: string;
  key: string;
  expectedRefs: Record<string, string>;
}): Promise<string[]> {
  const dir = await mkdtemp(join(tmpdir(), "eventchain-bundle-"));
  try {
    const file = join(dir, "repository.bundle");
    await pipeline(await downloadStream(p.s3, p.bucket, p.key), createWriteStream(file, { mode: 0o600 }));
    const mirror = join(dir, "mirror.git");
    const clone = await $({ quiet: true, nothrow: true })`git clone --quiet --mirror ${file} ${mirror}`;
    if (clone.exitCode !== 0)
      return [
        `bundle s3://${p.bucket}/${p.key} cannot be cloned: ${clone.stderr.trim().split("\n").slice(-2).join(" | ")}`,
      ];
    const verify = await $({ quiet: true, nothrow: true })`git -C ${mirror} bundle verify --quiet ${file}`;
    const problems = verify.exitCode === 0 ? [] : [`git bundle verify failed: ${verify.stderr.trim()}`];
    const got = await listRefs(mirror);
    for (const [name, id] of Object.entries(p.expectedRefs)) {
      if (got[name] !== id) problems.push(`ref ${name}: ${got[name] ?? "missing"} in the bundle, ${id} expected`);
    }
    const fsck = await $({ quiet: true, nothrow: true })`git -C ${mirror} fsck --no-dangling --no-progress`;
    if (fsck.exitCode !== 0)
      problems.push(`git fsck of the restored mirror failed: ${fsck.stderr.trim().split("\n").slice(-2).join(" | ")}`);
    return problems;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function tagsOf(ecr: ECRClient, repositoryName: string): Promise<Map<string, string>> {
  const tags = new Map<string, string>();
  let nextToken: string | undefined;
  do {
    const page = await ecr.send(
      new DescribeImagesCommand({ repositoryName, nextToken, filter: { tagStatus: "TAGGED" } }),
    );
    for (const img of page.imageDetails ?? []) for (const t of img.imageTags ?? []) tags.set(t, img.imageDigest ?? "");
    nextToken = page.nextToken;
  } while (nextToken);
  return tags;
}

export interface TagComparison {
  repository: string;
  primaryTags: number;
  missingInReplica: string[];
  digestMismatch: string[];
}

/** For each repository: tags in the primary region missing (or with another digest) in the replica region. */
export async function compareImageTags(
  primary: ECRClient,
  replica: ECRClient,
  repositories: string[],
): Promise<TagComparison[]> {
  const out: TagComparison[] = [];
  for (const repository of repositories) {
    const [a, b] = await Promise.all([
      tagsOf(primary, repository),
      tagsOf(replica, repository).catch((e: Error) => {
        if (e.name === "RepositoryNotFoundException") return new Map<string, string>();
        throw e;
      }),
    ]);
    const missingInReplica = [...a.keys()].filter((t) => !b.has(t)).sort();
    const digestMismatch = [...a.entries()]
      .filter(([t, d]) => b.has(t) && b.get(t) !== d)
      .map(([t]) => t)
      .sort();
    out.push({ repository, primaryTags: a.size, missingInReplica, digestMismatch });
  }
  return out;
}
