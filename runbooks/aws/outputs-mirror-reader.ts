/**
 * The DR-region copy of the stacks' outputs (infra/components/outputs-mirror.ts), for when the
 * state backend is unreachable. Found without any outputs: the DR region from the committed stack
 * config, the account from STS's regional endpoint in that region, the bucket and key from
 * `OUTPUTS_MIRROR`. Only DR-region endpoints are called, each bounded.
 */
import { GetObjectCommand } from "@aws-sdk/client-s3";
import { GetCallerIdentityCommand, STSClient } from "@aws-sdk/client-sts";
import { readRawConfig } from "../../infra/config/load.ts";
import { OUTPUTS_MIRROR } from "../../contract/stack-outputs.ts";
import type { ClientFactory } from "../lib/aws.ts";
import type { OutputsMirrorSource } from "../lib/outputs-loader.ts";
import { boundedOrThrow } from "./bounded.ts";
import { BackupS3Client } from "./s3-object.ts";

const CALL_MS = 15_000;

/** The DR region of `stack` by its committed config: its own region for role dr, its peer's otherwise. */
export function drRegionOf(stack: string, projectDir?: string): string {
  const raw = readRawConfig(stack, projectDir);
  const region = raw["eventchain-dr:role"] === "dr" ? raw["aws:region"] : raw["eventchain-dr:peerRegion"];
  if (typeof region !== "string")
    throw new Error(
      `the committed config of stack ${stack} names no DR region (aws:region / eventchain-dr:peerRegion)`,
    );
  return region;
}

export function s3OutputsMirror(clients: ClientFactory, options: { projectDir?: string } = {}): OutputsMirrorSource {
  return {
    async read(stack) {
      const region = drRegionOf(stack, options.projectDir);
      const identity = await boundedOrThrow(`sts GetCallerIdentity (${region})`, CALL_MS, (abortSignal) =>
        clients.get(STSClient, region).send(new GetCallerIdentityCommand({}), { abortSignal }),
      );
      const bucket = OUTPUTS_MIRROR.bucketName(identity.Account!, region);
      const key = OUTPUTS_MIRROR.key(stack);
      const object = await boundedOrThrow(
        `s3 GetObject s3://${bucket}/${key} (${region})`,
        CALL_MS,
        async (abortSignal) => {
          const res = await clients
            .get(BackupS3Client, region)
            .send(new GetObjectCommand({ Bucket: bucket, Key: key }), { abortSignal });
          return {
            text: await res.Body!.transformToString(),
            versionId: res.VersionId,
            lastModified: res.LastModified,
          };
        },
      );
      let raw: unknown;
      try {
        raw = JSON.parse(object.text);
      } catch (error) {
        throw new Error(`s3://${bucket}/${key} is not JSON: ${(error as Error).message}`, { cause: error });
      }
      return {
        raw,
        where: `s3://${bucket}/${key} (version ${object.versionId ?? "unversioned"}, written ${object.lastModified?.toISOString() ?? "at an unknown time"})`,
      };
    },
  };
}
