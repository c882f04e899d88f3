/**
 * What every suite shares: the bench's context (options, scratch dir, cleanups, the seeded
 * dataset, the emulator) and the emulator's start with the backup bucket.
 */
import { S3Client, CreateBucketCommand } from "@aws-sdk/client-s3";
import type { BenchOptions, SuiteId } from "./options.ts";
import type { Progress } from "./harness.ts";
import type { Dataset } from "./dataset.ts";
import type { SuiteResult } from "./bench-results.ts";
import { emulatorCliEnv } from "./plan-pipeline.ts";
import { startMoto, type MotoServer } from "../stand-ins/moto.ts";

export interface BenchContext {
  options: BenchOptions;
  workDir: string;
  /** Run last-in first-out at the end, also on failure. */
  cleanups: (() => Promise<void>)[];
  log: (message: string) => void;
  dataset?: Dataset;
  moto?: MotoServer;
  bucket?: string;
  /** Results of suites already run (ratios across suites use them). */
  done?: Map<SuiteId, SuiteResult>;
}

export type SuiteRunner = (ctx: BenchContext, progress: Progress) => Promise<SuiteResult>;

export const BUCKET = "eventchain-bench-backups";

/** The emulator, started once per bench run, with the backup bucket. Placeholder credentials only. */
export async function ensureMoto(ctx: BenchContext): Promise<{ moto: MotoServer; bucket: string }> {
  if (ctx.moto && ctx.bucket) return { moto: ctx.moto, bucket: ctx.bucket };
  // The bench talks to the emulator only: pin the SDK's default chain to its placeholders.
  Object.assign(process.env, emulatorCliEnv(), { AWS_REGION: "us-east-1" });
  const moto = await startMoto();
  ctx.cleanups.push(() => moto.stop());
  await createBucket(moto.endpoint, BUCKET);
  ctx.moto = moto;
  ctx.bucket = BUCKET;
  return { moto, bucket: BUCKET };
}

/** Creates a bucket on the emulator (placeholder credentials from the environment). */
export async function createBucket(endpoint: string, bucket: string): Promise<void> {
  const s3 = new S3Client({ region: "us-east-1", endpoint, forcePathStyle: true });
  try {
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  } finally {
    s3.destroy();
  }
}
