/**
 * Streaming upload of a backup object with SHA-256 checksums, and verification that reads it
 * back (size and checksum), never just its listing.
 *
 * The upload is a multipart `Upload` (`@aws-sdk/lib-storage`) with `ChecksumAlgorithm: SHA256`:
 * S3 checks each part as it arrives and stores a composite checksum (SHA-256 of the parts'
 * SHA-256 digests, `-N`). We hash the same parts as they stream by, so the manifest holds the
 * whole-object SHA-256, each part's SHA-256 and the composite we expect S3 to report.
 */
import { createHash } from "node:crypto";
import { PassThrough, Transform, type Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { GetObjectCommand, HeadObjectCommand, S3Client, type S3ClientConfig } from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";

/** Part size of every upload (S3 minimum is 5 MiB). Our per-part hashes use the same boundaries. */
export const PART_SIZE = 8 * 1024 * 1024;

/**
 * S3 client that uses path-style addressing when an endpoint override is in effect (a local
 * emulator on 127.0.0.1 has no per-bucket host names); AWS itself keeps virtual-hosted style.
 */
export class BackupS3Client extends S3Client {
  constructor(config: S3ClientConfig & { region: string }) {
    const overridden = Boolean(config.endpoint ?? process.env.AWS_ENDPOINT_URL_S3 ?? process.env.AWS_ENDPOINT_URL);
    super({ ...config, forcePathStyle: config.forcePathStyle ?? overridden });
  }
}

export interface UploadedObject {
  bucket: string;
  key: string;
  bytes: number;
  /** SHA-256 of the whole object, hex. */
  sha256: string;
  /** SHA-256 of each part (PART_SIZE bytes, the last shorter), base64 as S3 reports them. */
  partSha256: string[];
  /** What S3 reports for the object: base64 composite `<sha256 of part digests>-<N>`, or the plain SHA-256 for one part. */
  s3Checksum: string;
  versionId?: string;
}

/** Splits a stream into PART_SIZE chunks and hashes each one and the whole. */
class PartHasher extends Transform {
  readonly whole = createHash("sha256");
  readonly parts: Buffer[] = [];
  bytes = 0;
  private part = createHash("sha256");
  private inPart = 0;

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: (e?: Error | null, d?: Buffer) => void): void {
    this.whole.update(chunk);
    this.bytes += chunk.length;
    let offset = 0;
    while (offset < chunk.length) {
      const take = Math.min(PART_SIZE - this.inPart, chunk.length - offset);
      this.part.update(chunk.subarray(offset, offset + take));
      this.inPart += take;
      offset += take;
      if (this.inPart === PART_SIZE) this.closePart();
    }
    cb(null, chunk);
  }

  override _flush(cb: (e?: Error | null) => void): void {
    if (this.inPart > 0 || this.parts.length === 0) this.closePart();
    cb();
  }

  private closePart(): void {
    this.parts.push(this.part.digest());
    this.part = createHash("sha256");
    this.inPart = 0;
  }
}

/** The checksum S3 reports for an object uploaded in these parts (pure). */
export function expectedS3Checksum(partDigests: Buffer[], multipart: boolean): string {
  if (!multipart) return partDigests[0]!.toString("base64");
  const combined = createHash("sha256").update(Buffer.concat(partDigests)).digest("base64");
  return `${combined}-${partDigests.length}`;
}

/**
 * Streams `body` to `s3://bucket/key` (multipart, SHA-256 checked by S3 per part, SSE-KMS when
 * `kmsKeyId` is given). Nothing is written to local disk.
 */
export async function uploadStream(
  s3: S3Client,
  params: {
    bucket: string;
    key: string;
    body: Readable;
    contentType?: string;
    kmsKeyId?: string;
    metadata?: Record<string, string>;
  },
): Promise<UploadedObject> {
  const hasher = new PartHasher();
  const pass = new PassThrough({ highWaterMark: PART_SIZE });
  const piping = pipeline(params.body, hasher, pass);
  const upload = new Upload({
    client: s3,
    partSize: PART_SIZE,
    queueSize: 2,
    leavePartsOnError: false,
    params: {
      Bucket: params.bucket,
      Key: params.key,
      Body: pass,
      ContentType: params.contentType ?? "application/octet-stream",
      ChecksumAlgorithm: "SHA256",
      ...(params.kmsKeyId ? { ServerSideEncryption: "aws:kms", SSEKMSKeyId: params.kmsKeyId } : {}),
      ...(params.metadata ? { Metadata: params.metadata } : {}),
    },
  });
  const [result] = await Promise.all([upload.done(), piping]);
  const multipart = hasher.bytes > PART_SIZE;
  return {
    bucket: params.bucket,
    key: params.key,
    bytes: hasher.bytes,
    sha256: hasher.whole.digest("hex"),
    partSha256: hasher.parts.map((p) => p.toString("base64")),
    s3Checksum: expectedS3Checksum(hasher.parts, multipart),
    ...("VersionId" in result && result.VersionId ? { versionId: result.VersionId } : {}),
  };
}

export interface ObjectCheck {
  ok: boolean;
  problems: string[];
  /** What S3 reported (GetObjectAttributes). */
  reported: { bytes: number | undefined; checksum: string | undefined };
  /** SHA-256 of the bytes read back (deep check only). */
  readBackSha256?: string;
}

/**
 * Pure: whether S3's reported checksum matches ours. A composite may be reported with or
 * without its `-N` part count (AWS adds it; moto leaves it out); the digest must match exactly.
 */
export function sameChecksum(reported: string, expected: string): boolean {
  if (reported === expected) return true;
  const [digest, parts] = expected.split("-");
  return parts !== undefined && reported === digest;
}

/**
 * Verifies an uploaded object against what we recorded: size and checksum as S3 reports them
 * (HeadObject with ChecksumMode; moto's GetObjectAttributes dates do not parse in SDK v3), and with `deep`, by
 * reading every byte back and hashing it.
 */
export async function verifyObject(
  s3: S3Client,
  expected: Pick<UploadedObject, "bucket" | "key" | "bytes" | "sha256" | "s3Checksum">,
  deep = true,
): Promise<ObjectCheck> {
  const problems: string[] = [];
  const where = `s3://${expected.bucket}/${expected.key}`;
  const head = await s3.send(
    new HeadObjectCommand({ Bucket: expected.bucket, Key: expected.key, ChecksumMode: "ENABLED" }),
  );
  const reported = { bytes: head.ContentLength, checksum: head.ChecksumSHA256 };
  if (reported.bytes !== expected.bytes)
    problems.push(`${where}: size ${String(reported.bytes)} bytes, expected ${expected.bytes}`);
  if (reported.checksum === undefined)
    problems.push(`${where}: S3 reports no SHA-256 checksum (uploaded without ChecksumAlgorithm?)`);
  else if (!sameChecksum(reported.checksum, expected.s3Checksum))
    problems.push(`${where}: S3 checksum ${reported.checksum}, expected ${expected.s3Checksum}`);
  const check: ObjectCheck = { ok: false, problems, reported };
  if (deep) {
    const got = await s3.send(new GetObjectCommand({ Bucket: expected.bucket, Key: expected.key }));
    const hash = createHash("sha256");
    let bytes = 0;
    for await (const chunk of got.Body as Readable) {
      hash.update(chunk as Buffer);
      bytes += (chunk as Buffer).length;
    }
    check.readBackSha256 = hash.digest("hex");
    if (bytes !== expected.bytes) problems.push(`${where}: read back ${bytes} bytes, expected ${expected.bytes}`);
    if (check.readBackSha256 !== expected.sha256)
      problems.push(`${where}: read-back SHA-256 ${check.readBackSha256}, expected ${expected.sha256}`);
  }
  check.ok = problems.length === 0;
  return check;
}

/** Streams an object's body (for restores); the caller consumes it. */
export async function downloadStream(s3: S3Client, bucket: string, key: string): Promise<Readable> {
  const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return got.Body as Readable;
}

/** Uploads a small JSON document (a manifest) with a SHA-256 checksum. */
export async function putJson(
  s3: S3Client,
  bucket: string,
  key: string,
  doc: unknown,
  kmsKeyId?: string,
): Promise<UploadedObject> {
  const { Readable } = await import("node:stream");
  return uploadStream(s3, {
    bucket,
    key,
    body: Readable.from([Buffer.from(JSON.stringify(doc, null, 2))]),
    contentType: "application/json",
    kmsKeyId,
  });
}

/** Reads a JSON document. */
export async function getJson<T>(s3: S3Client, bucket: string, key: string): Promise<T> {
  const body = await downloadStream(s3, bucket, key);
  const chunks: Buffer[] = [];
  for await (const c of body) chunks.push(c as Buffer);
  return JSON.parse(Buffer.concat(chunks).toString("utf8")) as T;
}
