/**
 * The primary stack's read of its live database (infra/stacks/primary.ts `liveDatabase`,
 * `readLiveDatabase`) alone,
 * under a mock runtime: what it asks, what it makes of the answers, and that a read that fails
 * rejects with the message the update then fails with (an input that rejects fails the resource
 * using it, and so the update) — never "not fenced".
 */
import test from "ava";
import * as pulumi from "@pulumi/pulumi";
import { liveDatabase, readLiveDatabase } from "../../infra/stacks/primary.ts";

const calls: { token: string; inputs: Record<string, any> }[] = [];

async function mockReads(answer: (token: string, inputs: Record<string, any>) => Record<string, any>) {
  calls.length = 0;
  await pulumi.runtime.setMocks(
    {
      newResource: (args) => ({ id: `${args.name}-id`, state: args.inputs }),
      call: (args) => {
        calls.push({ token: args.token, inputs: args.inputs });
        return answer(args.token, args.inputs);
      },
    },
    "eventchain-dr",
    "prod",
  );
}

const value = <T>(o: pulumi.Output<T>) => (o as unknown as { promise(): Promise<T> }).promise();

test.serial("no such instance: undefined, after one listing by identifier", async (t) => {
  await mockReads(() => ({ instanceIdentifiers: [], instanceArns: [] }));
  t.is(await value(liveDatabase("eventchain-prod-db", undefined)), undefined);
  t.deepEqual(calls, [
    {
      token: "aws:rds/getInstances:getInstances",
      inputs: { filters: [{ name: "db-instance-id", values: ["eventchain-prod-db"] }] },
    },
  ]);
});

test.serial("an instance: its tags and security groups", async (t) => {
  await mockReads((token) =>
    token === "aws:rds/getInstances:getInstances"
      ? { instanceIdentifiers: ["eventchain-prod-db"], instanceArns: ["arn:aws:rds:us-east-1:1:db:eventchain-prod-db"] }
      : { tags: { "eventchain:fenced-by": "fp1" }, vpcSecurityGroups: ["sg-fence"] },
  );
  t.deepEqual(await value(liveDatabase("eventchain-prod-db", undefined)), {
    identifier: "eventchain-prod-db",
    tags: { "eventchain:fenced-by": "fp1" },
    securityGroupIds: ["sg-fence"],
  });
  t.deepEqual(calls[1], {
    token: "aws:rds/getInstance:getInstance",
    inputs: { dbInstanceIdentifier: "eventchain-prod-db" },
  });
});

test.serial("a read that fails rejects, naming the instance and the cause", async (t) => {
  const cause = "AccessDenied: not authorized to perform rds:DescribeDBInstances";
  await mockReads(() => {
    // The engine's gRPC error carries the provider's message in its details.
    throw Object.assign(new Error(cause), { details: cause });
  });
  await t.throwsAsync(readLiveDatabase("eventchain-prod-db", undefined), {
    message: `cannot read whether eventchain-prod-db is fenced (its tags and security groups): ${cause}. Nothing is declared for it without knowing; fix the read and run again`,
  });
});
