/**
 * A backup that is one process's output, written once for every such backup (the code bundle,
 * the Redis RDB): spawn the command (argv, no shell; secrets only in `env`), stream its stdout —
 * through `through` when given, e.g. gzip — into the bucket as one object with SHA-256
 * checksums and no temp file, fail naming the command and the tail of its stderr when it exits
 * non-zero, then write the one-object manifest beside it (the artifact format of
 * runbooks/postgres/manifest.ts). Nothing is written to the bucket's manifest unless both the
 * process and the upload succeeded.
 */
import { spawn } from "node:child_process";
import type { Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { S3Client } from "@aws-sdk/client-s3";
import { MANIFEST_VERSION, manifestKey, type ArtifactManifest } from "../postgres/manifest.ts";
import { putJson, uploadStream } from "./s3-object.ts";

export interface ProcessBackup {
  command: string;
  args: string[];
  /** The process's environment (default this process's); the place for a password, never argv. */
  env?: NodeJS.ProcessEnv;
  /** The command as an error names it, e.g. `git bundle create` (no secrets). */
  label: string;
  /** A stream the output passes through on its way to the bucket (e.g. `createGzip()`). */
  through?: Transform;
  s3: S3Client;
  bucket: string;
  prefix: string;
  kmsKeyId?: string;
  backupId: string;
  /** When the backup began (ISO), for the manifest. */
  startedAt: string;
  kind: ArtifactManifest["kind"];
  /** The object's name in the manifest and in its key: `<prefix><backupId>/<name>`. */
  name: string;
  contentType: string;
  /** What the manifest records about the backup besides its object. */
  facts: Record<string, unknown>;
}

export async function backupProcessOutput(p: ProcessBackup): Promise<ArtifactManifest> {
  const child = spawn(p.command, p.args, { env: p.env ?? process.env, stdio: ["ignore", "pipe", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
  const exited = new Promise<void>((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code) =>
      code === 0 ? resolve() : reject(new Error(`${p.label} exited ${code}: ${stderr.trim()}`)),
    );
  });
  const key = `${p.prefix}${p.backupId}/${p.name}`;
  let object;
  try {
    [object] = await Promise.all([
      uploadStream(p.s3, {
        bucket: p.bucket,
        key,
        body: p.through ?? child.stdout,
        contentType: p.contentType,
        kmsKeyId: p.kmsKeyId,
      }),
      ...(p.through ? [pipeline(child.stdout, p.through)] : []),
      exited,
    ]);
  } catch (error) {
    // An upload that failed leaves no process behind it.
    if (child.exitCode === null) child.kill();
    throw error;
  }
  const manifest: ArtifactManifest = {
    manifestVersion: MANIFEST_VERSION,
    kind: p.kind,
    backupId: p.backupId,
    startedAt: p.startedAt,
    finishedAt: new Date().toISOString(),
    objects: [
      {
        name: p.name,
        key,
        bytes: object.bytes,
        sha256: object.sha256,
        partSha256: object.partSha256,
        s3Checksum: object.s3Checksum,
      },
    ],
    facts: p.facts,
  };
  await putJson(p.s3, p.bucket, manifestKey(p.prefix, p.backupId), manifest, p.kmsKeyId);
  return manifest;
}
