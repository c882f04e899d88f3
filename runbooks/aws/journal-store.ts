/**
 * The shared run store of the incident runbooks (run lock, shared journal) in S3: the DR
 * region's backup bucket named by the stack outputs' `runJournal`, under its prefix (`runs/`).
 * Conditional writes do the locking: a create is `PutObject` with `If-None-Match: *`, a replace
 * is `PutObject` with `If-Match: <etag>`; S3 answers 412 when someone else got there first
 * (and 409 when two conditional writes race), both reported as PreconditionFailedError.
 */
import { GetObjectCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import type { StackOutputs } from "../../contract/stack-outputs.ts";
import type { ClientFactory } from "../lib/aws.ts";
import { PreconditionFailedError, type RunStore, type StoredObject } from "../lib/run-store.ts";
import { BackupS3Client } from "./s3-object.ts";

const CONFLICT = new Set(["PreconditionFailed", "ConditionalRequestConflict"]);

function conditionFailed(error: unknown): boolean {
  const e = error as { name?: string; $metadata?: { httpStatusCode?: number } };
  return CONFLICT.has(e.name ?? "") || e.$metadata?.httpStatusCode === 412 || e.$metadata?.httpStatusCode === 409;
}

/**
 * The lock scope of the runbooks that act on what serves clients — the failover switch, the
 * application's database and connection secret, the services — on the stack pair prod/dr:
 * region-failover, failback, fence-primary, database-recovery and service-recovery. While a run of
 * any of them holds the lock, a run of any other is refused (runbooks/lib/run-lock.ts).
 */
export const TRAFFIC_LOCK_SCOPE = "traffic";

/** The run store named by `outputs.runJournal` (the same bucket for prod and dr). */
export function s3RunStore(outputs: StackOutputs, _peer: StackOutputs | undefined, clients: ClientFactory): RunStore {
  const { bucketName: Bucket, region, prefix } = outputs.runJournal;
  const s3 = clients.get(BackupS3Client, region);
  const Key = (key: string) => `${prefix}${key}`;
  const put = async (
    key: string,
    body: string,
    condition: { IfNoneMatch?: string; IfMatch?: string },
    signal?: AbortSignal,
  ) => {
    try {
      const res = await s3.send(
        new PutObjectCommand({
          Bucket,
          Key: Key(key),
          Body: body,
          ContentType: "application/json",
          ...condition,
        }),
        { abortSignal: signal },
      );
      return res.ETag ?? "";
    } catch (error) {
      if (conditionFailed(error))
        throw new PreconditionFailedError(`s3://${Bucket}/${Key(key)} changed since it was read`);
      throw error;
    }
  };
  return {
    location: `s3://${Bucket}/${prefix} (${region})`,
    async get(key, signal): Promise<StoredObject | undefined> {
      try {
        const res = await s3.send(new GetObjectCommand({ Bucket, Key: Key(key) }), { abortSignal: signal });
        return { body: (await res.Body?.transformToString("utf8")) ?? "", etag: res.ETag ?? "" };
      } catch (error) {
        if ((error as { name?: string }).name === "NoSuchKey") return undefined;
        throw error;
      }
    },
    create: (key, body, signal) => put(key, body, { IfNoneMatch: "*" }, signal),
    replace: (key, body, etag, signal) => put(key, body, { IfMatch: etag }, signal),
    async put(key, body, signal) {
      await put(key, body, {}, signal);
    },
  };
}
