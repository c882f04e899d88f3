/**
 * What a failed logical backup leaves behind, removed: multipart uploads still open under the
 * backup's own prefix (`<prefix><id>/`) are aborted, and every object (every version) written
 * there is deleted. Only ever for a backup that has no manifest: a backup without its manifest
 * cannot be verified or restored, so keeping its parts would only mislead. Each removal is
 * returned, for the error message and the log.
 */
import {
  AbortMultipartUploadCommand,
  DeleteObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectVersionsCommand,
  type S3Client,
} from "@aws-sdk/client-s3";

export interface Cleanup {
  /** What was removed: `aborted upload s3://…` or `deleted s3://… (version …)`. */
  removed: string[];
  /** What could not be removed, with S3's reason. */
  left: string[];
}

/** Aborts the open uploads and deletes the objects under `backupPrefix`, which must end with `/`. */
export async function removeFailedBackup(s3: S3Client, bucket: string, backupPrefix: string): Promise<Cleanup> {
  if (!/\/\d{8}T\d{6}Z\/$/.test(backupPrefix))
    throw new Error(`refusing to clean "${backupPrefix}": expected one backup's prefix, <prefix><backup id>/`);
  const out: Cleanup = { removed: [], left: [] };
  const uploads = await s3.send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: backupPrefix }));
  for (const u of uploads.Uploads ?? []) {
    const where = `s3://${bucket}/${u.Key}`;
    try {
      await s3.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: u.Key, UploadId: u.UploadId }));
      out.removed.push(`aborted upload ${where}`);
    } catch (error) {
      out.left.push(`upload ${where}: ${(error as Error).name}: ${(error as Error).message}`);
    }
  }
  const versions = await s3.send(new ListObjectVersionsCommand({ Bucket: bucket, Prefix: backupPrefix }));
  for (const v of [...(versions.Versions ?? []), ...(versions.DeleteMarkers ?? [])]) {
    const where = `s3://${bucket}/${v.Key}`;
    const version = v.VersionId && v.VersionId !== "null" ? v.VersionId : undefined;
    try {
      await s3.send(
        new DeleteObjectCommand({ Bucket: bucket, Key: v.Key, ...(version ? { VersionId: version } : {}) }),
      );
      out.removed.push(`deleted ${where}${version ? ` (version ${version})` : ""}`);
    } catch (error) {
      out.left.push(`${where}: ${(error as Error).name}: ${(error as Error).message}`);
    }
  }
  return out;
}
