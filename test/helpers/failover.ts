/**
 * A moto server for the file, seeded before each test with both stacks and the failover switch,
 * plus what AWS does downstream of the switch that moto does not (rehearsal/stand-ins/route53-data-plane.ts):
 * an authoritative name server on loopback recorded as the zone's name servers, and CloudWatch's
 * evaluation of the switch alarm, applied by the proxy every test talks through. Short bounds
 * (switch detection 3 s, TTL 2 s) keep failure paths fast. Tests of such a file are `test.serial`.
 */
import { CloudWatchClient, SetAlarmStateCommand } from "@aws-sdk/client-cloudwatch";
import type { ExecutionContext, TestFn } from "ava";
import { firstOf, type FaultRule } from "../../rehearsal/stand-ins/aws-proxy.ts";
import { awsState, seedStacks, type Seeded } from "../../rehearsal/stand-ins/aws-seed.ts";
import {
  cloudWatchEvaluation,
  startRoute53DataPlane,
  type Route53DataPlane,
} from "../../rehearsal/stand-ins/route53-data-plane.ts";
import { askAll } from "../../runbooks/aws/authoritative-dns.ts";
import { useMoto } from "./moto.ts";
import { startFaultProxy, type FaultProxy } from "./fault-proxy.ts";

export const TEST_DETECTION_SECONDS = 3;
export const TEST_TTL = 2;

export function useFailoverMoto(test: TestFn) {
  const moto = useMoto(test);
  let plane: Route53DataPlane | undefined;
  let current: Seeded | undefined;
  const seeded = (): Seeded => {
    if (!current) throw new Error("the stacks are not seeded (use it inside a test)");
    return current;
  };
  test.after.always(async () => {
    await plane?.close();
  });
  test.beforeEach(async () => {
    // (Started here, not in a before hook: ava runs before hooks side by side, moto may not be up.)
    plane ??= await startRoute53DataPlane(moto().endpoint, () => seeded().prod);
    await moto().reset();
    current = await seedStacks(moto().endpoint, {
      failover: { nameServers: plane!.nameServers, detectionSeconds: TEST_DETECTION_SECONDS },
      ttl: TEST_TTL,
    });
  });
  /**
   * A proxy in front of moto that applies `faults` first (setRule replaces them), then CloudWatch's
   * evaluation of the switch alarm on the PutMetricData that passes.
   */
  const proxy = async (t: ExecutionContext, faults: FaultRule = () => undefined): Promise<FaultProxy> => {
    let rule = faults;
    const p = await startFaultProxy(
      moto().endpoint,
      firstOf((r) => rule(r), cloudWatchEvaluation(moto().endpoint, seeded().dr.failover.switch)),
    );
    t.teardown(() => p.close());
    return {
      ...p,
      setRule: (r) => {
        rule = r;
      },
    };
  };
  /** The switch as region-failover leaves it: its alarm in ALARM (what CloudWatch sets once the metric says 1). */
  const engageSwitch = async (): Promise<void> => {
    const sw = seeded().dr.failover.switch;
    await new CloudWatchClient({ region: sw.region, endpoint: moto().endpoint, maxAttempts: 1 }).send(
      new SetAlarmStateCommand({ AlarmName: sw.alarmName, StateValue: "ALARM", StateReason: "test: switch engaged" }),
    );
  };
  /** What the zone's authoritative name server answers for the record now. */
  const answer = async (): Promise<string | null> =>
    (await askAll(plane!.nameServers, seeded().prod.dns.recordName, 2000))[0]!.answer;
  return {
    moto,
    seeded,
    plane: () => plane!,
    proxy,
    answer,
    engageSwitch,
    state: () => awsState(moto().endpoint, seeded()),
  };
}
