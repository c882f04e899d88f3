/**
 * One moto server per test file: started before the tests, stopped after (even on failure).
 * The fake credentials below exist only in the test process, for the emulator; the runbooks
 * themselves use the SDK's default credential chain and never read keys.
 */
import type { TestFn } from "ava";
import { startMoto, type MotoServer } from "../../rehearsal/stand-ins/moto.ts";
import { createClientFactory, type AwsSettings } from "../../runbooks/lib/aws.ts";
import { awsState, seedStacks, type Seeded } from "../../rehearsal/stand-ins/aws-seed.ts";
import { startRoute53DataPlane, type Route53DataPlane } from "../../rehearsal/stand-ins/route53-data-plane.ts";

process.env.AWS_ACCESS_KEY_ID = "testing";
process.env.AWS_SECRET_ACCESS_KEY = "testing";
process.env.AWS_EC2_METADATA_DISABLED = "true";
delete process.env.AWS_PROFILE;

export interface MotoContext {
  moto: MotoServer;
}

/** Registers before/after hooks on `test` that start and stop a moto server. */
export function useMoto(test: TestFn): () => MotoServer {
  let server: MotoServer | undefined;
  test.before(async () => {
    server = await startMoto();
  });
  test.after.always(async () => {
    await server?.stop();
  });
  return () => {
    if (!server) throw new Error("moto is not started (use it inside a test)");
    return server;
  };
}

/** Client settings for tests: the emulator's endpoint, no retries. */
export function awsFor(endpoint: string): AwsSettings {
  return { endpoint, maxAttempts: 1 };
}

export function clientsFor(endpoint: string) {
  return createClientFactory(awsFor(endpoint));
}

export interface SeededMoto {
  moto: () => MotoServer;
  /** The stacks as seeded before the current test. */
  seeded: () => Seeded;
  /** Everything a runbook could change in the emulator, as plain data (see `awsState`). */
  state: () => Promise<Record<string, unknown>>;
}

/**
 * A moto server for the file, reset and seeded with both stacks before each test. The tests of
 * such a file share one emulator, so they must be `test.serial`.
 */
export function useSeededMoto(test: TestFn): SeededMoto {
  const moto = useMoto(test);
  let current: Seeded | undefined;
  // Route 53's data plane for the failover switch (moto answers no DNS): an authoritative name
  // server on loopback, recorded as the zone's; short detection and TTL keep failure paths fast.
  let plane: Route53DataPlane | undefined;
  test.after.always(async () => {
    await plane?.close();
  });
  test.beforeEach(async () => {
    plane ??= await startRoute53DataPlane(moto().endpoint, () => current!.prod);
    await moto().reset();
    current = await seedStacks(moto().endpoint, {
      failover: { nameServers: plane.nameServers, detectionSeconds: 3 },
      ttl: 2,
    });
  });
  const seeded = (): Seeded => {
    if (!current) throw new Error("the stacks are not seeded (use it inside a test)");
    return current;
  };
  return { moto, seeded, state: () => awsState(moto().endpoint, seeded()) };
}
