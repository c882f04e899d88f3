/**
 * `--stack` when the state backend is unreachable: the outputs loader falls back to the DR-region
 * mirror and says so (runbooks/lib/outputs-loader.ts). The mirror here is an in-memory stand-in; the S3
 * one is exercised end to end in region-failover-primary-down.test.ts.
 */
import test from "ava";
import { loadOutputs, type OutputsMirrorSource } from "../../runbooks/lib/outputs-loader.ts";
import { BadInputError } from "../../runbooks/lib/errors.ts";
import { sampleOutputs } from "../../rehearsal/stand-ins/seeded-outputs.ts";

const backendDown = async (): Promise<never> => {
  throw new BadInputError('cannot read outputs of stack "prod": error: failed to load checkpoint: i/o timeout');
};
const mirror = (copies: Record<string, unknown>, reads: string[] = []): OutputsMirrorSource => ({
  async read(stack) {
    reads.push(stack);
    if (!(stack in copies)) throw new Error(`s3://mirror/stacks/${stack}.json: NoSuchKey`);
    return {
      raw: copies[stack],
      where: `s3://mirror/stacks/${stack}.json (version v1, written 2026-01-15T00:00:00.000Z)`,
    };
  },
});

test("an unreachable state backend falls back to the DR mirror for the stack and its peer, saying so", async (t) => {
  const reads: string[] = [];
  const pulumi: string[] = [];
  const loaded = await loadOutputs(
    { stack: "prod" },
    true,
    async (s) => {
      pulumi.push(s);
      return backendDown();
    },
    mirror({ prod: sampleOutputs("prod"), dr: sampleOutputs("dr") }, reads),
  );
  t.is(loaded.outputs.stack, "prod");
  t.is(loaded.peer?.stack, "dr");
  t.deepEqual(pulumi, ["prod"], "the backend is not asked again for the peer once it failed");
  t.deepEqual(reads, ["prod", "dr"]);
  t.deepEqual(loaded.notes, [
    'outputs of stack prod come from the DR-region mirror s3://mirror/stacks/prod.json (version v1, written 2026-01-15T00:00:00.000Z), not from Pulumi: the state backend is unreachable (cannot read outputs of stack "prod": error: failed to load checkpoint: i/o timeout)',
    "outputs of stack dr come from the DR-region mirror s3://mirror/stacks/dr.json (version v1, written 2026-01-15T00:00:00.000Z), not from Pulumi: Pulumi was not asked, since reading stack prod failed a moment ago (state backend unreachable)",
  ]);
});

test("a reachable backend is used as before, with nothing to say", async (t) => {
  const reads: string[] = [];
  const loaded = await loadOutputs({ stack: "prod" }, false, async () => sampleOutputs("prod"), mirror({}, reads));
  t.is(loaded.outputs.stack, "prod");
  t.deepEqual(loaded.notes, []);
  t.deepEqual(reads, []);
});

test("without a mirror, or with the mirror missing too, the failure says both and is bad input", async (t) => {
  await t.throwsAsync(loadOutputs({ stack: "prod" }, false, backendDown), {
    instanceOf: BadInputError,
    message: /^cannot read outputs of stack "prod": error: failed to load checkpoint/,
  });
  await t.throwsAsync(loadOutputs({ stack: "prod" }, false, backendDown, mirror({})), {
    instanceOf: BadInputError,
    message:
      'cannot read outputs of stack "prod": cannot read outputs of stack "prod": error: failed to load ' +
      "checkpoint: i/o timeout; nor its copy in the DR-region mirror: s3://mirror/stacks/prod.json: " +
      "NoSuchKey. Use --outputs <file.json> with a saved copy",
  });
});

test("a mirrored copy that breaks the contract is refused like any other source", async (t) => {
  const broken = { ...sampleOutputs("prod"), failover: undefined };
  await t.throwsAsync(loadOutputs({ stack: "prod" }, false, backendDown, mirror({ prod: broken })), {
    instanceOf: BadInputError,
    message: /stack outputs from s3:\/\/mirror\/stacks\/prod\.json .* do not match the contract[\s\S]*failover/,
  });
});
