import test from "ava";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CreateBucketCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { CreateRepositoryCommand, ECRClient, PutImageCommand } from "@aws-sdk/client-ecr";
import { $ } from "zx";
import {
  bundleRepository,
  compareImageTags,
  gitAuthEnv,
  listRefs,
  mirrorRepository,
  parseGitToken,
  verifyBundle,
} from "../../runbooks/platform/code-bundle.ts";
import { hideUserinfo, parseBackupCodeOptions } from "../../runbooks/backup-code.ts";
import { BackupS3Client, downloadStream } from "../../runbooks/aws/s3-object.ts";
import { useMoto } from "../helpers/moto.ts";

const moto = useMoto(test);
let n = 0;

async function repoWithHistory(t: { teardown(fn: () => void): void }): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), "code-backup-test-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const git = $({
    cwd: dir,
    quiet: true,
    env: {
      ...process.env,
      GIT_AUTHOR_NAME: "t",
      GIT_AUTHOR_EMAIL: "t@example.com",
      GIT_COMMITTER_NAME: "t",
      GIT_COMMITTER_EMAIL: "t@example.com",
    },
  });
  await git`git init --quiet -b main`;
  for (let i = 0; i < 3; i++) {
    writeFileSync(join(dir, `f${i}.txt`), `content ${i}\n`);
    await git`git add .`;
    await git`git commit --quiet -m ${`commit ${i}`}`;
  }
  await git`git tag -a v1.0.0 -m release`;
  await git`git checkout --quiet -b feature`;
  writeFileSync(join(dir, "feature.txt"), "feature\n");
  await git`git add .`;
  await git`git commit --quiet -m feature`;
  return dir;
}

async function bucket() {
  const s3 = new BackupS3Client({ region: "us-east-1", endpoint: moto().endpoint, maxAttempts: 1 });
  const name = `code-${process.pid}-${++n}`;
  await s3.send(new CreateBucketCommand({ Bucket: name }));
  return { s3, name };
}

test("a git bundle of every ref is uploaded and restores every branch and tag", async (t) => {
  const repo = await repoWithHistory(t);
  const { s3, name } = await bucket();
  const manifest = await bundleRepository({ repoDir: repo, s3, bucket: name, prefix: "code/" });
  const refs = await listRefs(repo);
  t.deepEqual(manifest.facts.refs, refs);
  t.truthy(refs["refs/heads/main"] && refs["refs/heads/feature"] && refs["refs/tags/v1.0.0"]);
  t.deepEqual(await verifyBundle({ s3, bucket: name, key: manifest.objects[0]!.key, expectedRefs: refs }), []);
});

test("a damaged bundle fails verification", async (t) => {
  const repo = await repoWithHistory(t);
  const { s3, name } = await bucket();
  const manifest = await bundleRepository({ repoDir: repo, s3, bucket: name, prefix: "code/" });
  const key = manifest.objects[0]!.key;
  const chunks: Buffer[] = [];
  for await (const c of await downloadStream(s3, name, key)) chunks.push(c as Buffer);
  const bytes = Buffer.concat(chunks);
  await s3.send(
    new PutObjectCommand({ Bucket: name, Key: key, Body: bytes.subarray(0, Math.floor(bytes.length * 0.7)) }),
  );
  const problems = await verifyBundle({
    s3,
    bucket: name,
    key,
    expectedRefs: manifest.facts.refs as Record<string, string>,
  });
  t.true(problems.length > 0);
});

test("image tags missing or different in the replica region are reported", async (t) => {
  const primary = new ECRClient({ region: "us-east-1", endpoint: moto().endpoint, maxAttempts: 1 });
  const replica = new ECRClient({ region: "us-west-2", endpoint: moto().endpoint, maxAttempts: 1 });
  const repo = `eventchain/backend-${process.pid}`;
  for (const c of [primary, replica]) await c.send(new CreateRepositoryCommand({ repositoryName: repo }));
  // moto derives the image digest from the layers, so each image gets its own layer digest.
  const manifest = (layer: string) =>
    JSON.stringify({
      schemaVersion: 2,
      mediaType: "application/vnd.docker.distribution.manifest.v2+json",
      config: {
        mediaType: "application/vnd.docker.container.image.v1+json",
        size: 7023,
        digest: `sha256:${layer.repeat(64).slice(0, 64)}`,
      },
      layers: [
        {
          mediaType: "application/vnd.docker.image.rootfs.diff.tar.gzip",
          size: 100,
          digest: `sha256:${layer.repeat(64).slice(0, 64)}`,
        },
      ],
    });
  await primary.send(new PutImageCommand({ repositoryName: repo, imageManifest: manifest("a"), imageTag: "v1" }));
  await primary.send(new PutImageCommand({ repositoryName: repo, imageManifest: manifest("b"), imageTag: "v2" }));
  await replica.send(new PutImageCommand({ repositoryName: repo, imageManifest: manifest("a"), imageTag: "v1" }));
  const [result] = await compareImageTags(primary, replica, [repo]);
  t.is(result!.primaryTags, 2);
  t.deepEqual(result!.missingInReplica, ["v2"]);
  t.deepEqual(result!.digestMismatch, []);
  await replica.send(new PutImageCommand({ repositoryName: repo, imageManifest: manifest("c"), imageTag: "v2" }));
  const [again] = await compareImageTags(primary, replica, [repo]);
  t.deepEqual(again!.missingInReplica, []);
  t.deepEqual(again!.digestMismatch, ["v2"]);
});

test("a token from its secret reaches git only as a header for the repository's URL", (t) => {
  t.deepEqual(parseGitToken("ghs_abc\n", "arn:x"), { username: "x-access-token", token: "ghs_abc" });
  t.deepEqual(parseGitToken('{"username":"ci","token":"t0k"}', "arn:x"), { username: "ci", token: "t0k" });
  t.throws(() => parseGitToken('{"user":"ci"}', "arn:x"), {
    message: 'secret arn:x has no "token" string: expected a token or { "username", "token" } (value not shown)',
  });
  t.throws(() => parseGitToken("  ", "arn:x"), {
    message: "secret arn:x is empty: expected a read-only token for the repository",
  });
  const env = gitAuthEnv("https://github.com/eventchain/eventchain.git", {
    username: "x-access-token",
    token: "s3cret",
  });
  t.is(env.GIT_CONFIG_KEY_0, "http.https://github.com/eventchain/eventchain.git.extraHeader");
  t.is(env.GIT_CONFIG_VALUE_0, `Authorization: Basic ${Buffer.from("x-access-token:s3cret").toString("base64")}`);
  t.is(env.GIT_TERMINAL_PROMPT, "0", "git never prompts in a job");
  t.false(Object.keys(gitAuthEnv("https://h/r.git", undefined)).includes("GIT_CONFIG_COUNT"));
});

test("a remote repository is mirrored with every ref before it is bundled", async (t) => {
  const repo = await repoWithHistory(t);
  const parent = mkdtempSync(join(tmpdir(), "mirror-parent-"));
  t.teardown(() => rmSync(parent, { recursive: true, force: true }));
  const mirror = await mirrorRepository(`file://${repo}`, parent);
  t.deepEqual(await listRefs(mirror), await listRefs(repo));
  await t.throwsAsync(mirrorRepository(`file://${repo}-missing`, parent), {
    message: /^git clone --mirror file:\/\/.*-missing failed: /,
  });
});

test("backup-code refuses a repository URL with credentials, or both --repo and --repository-url", (t) => {
  t.throws(() => parseBackupCodeOptions({ "repository-url": "https://user:pw@github.com/e/e.git" }), {
    message:
      'invalid --repository-url "https://***@github.com/e/e.git": expected an https:// git URL without credentials (the token comes from --repository-token-secret)',
  });
  const refusal = t.throws(() =>
    parseBackupCodeOptions({ "repository-url": "https://x-access-token:ghp_s3cr3t@github.com/e/e.git" }),
  );
  t.false(refusal?.message.includes("ghp_s3cr3t"), "the refusal never repeats the token");
  t.is(hideUserinfo("https://github.com/e/e.git"), "https://github.com/e/e.git");
  t.is(hideUserinfo("ssh://git:tok@host/e.git?a=b@c"), "ssh://***@host/e.git?a=b@c");
  t.throws(() => parseBackupCodeOptions({ "repository-url": "https://github.com/e/e.git", repo: "." }), {
    message: "--repo and --repository-url exclude each other: bundle a local repository or mirror a remote one",
  });
  t.throws(
    () =>
      parseBackupCodeOptions({ "repository-token-secret": "arn:aws:secretsmanager:us-east-1:123456789012:secret:x" }),
    {
      message: "--repository-token-secret needs --repository-url",
    },
  );
  t.like(parseBackupCodeOptions({ "repository-url": "https://github.com/e/e.git" }), {
    repo: undefined,
    repositoryUrl: "https://github.com/e/e.git",
  });
});
