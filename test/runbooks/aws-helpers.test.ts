/** Pure helpers of runbooks/aws, and the health-check verdict on a recorded Route 53 response. */
import test from "ava";
import fc from "fast-check";
import { Route53Client } from "@aws-sdk/client-route-53";
import "../helpers/moto.ts";
import { healthCheckState } from "../../runbooks/aws/dns.ts";
import { checkInstance, restoredIdentifier, settingsFromOutputs } from "../../runbooks/aws/rds.ts";
import { waiterTiming } from "../../runbooks/aws/waiters.ts";
import { fixture, startFaultProxy } from "../helpers/fault-proxy.ts";
import { sampleOutputs } from "../../rehearsal/stand-ins/seeded-outputs.ts";

const RDS_ID = /^[a-z](?!.*--)[a-z0-9-]{0,61}[a-z0-9]$/;

test("restored identifiers are valid RDS identifiers, unique per second, whatever the source name", (t) => {
  fc.assert(
    fc.property(
      fc.string({ minLength: 0, maxLength: 80 }),
      fc.constantFrom("pitr", "rec", "fb"),
      fc.date({ min: new Date("2000-01-01"), max: new Date("2099-12-31"), noInvalidDate: true }),
      (base, tag, at) => {
        const id = restoredIdentifier(base, tag, at);
        return (
          id.length <= 63 && RDS_ID.test(id) && id !== restoredIdentifier(base, tag, new Date(at.getTime() + 1000))
        );
      },
    ),
  );
  t.is(
    restoredIdentifier("eventchain-prod-db", "pitr", new Date("2026-01-15T14:30:00Z")),
    "eventchain-prod-db-pitr-20260115143000",
  );
});

test("waiter timing stays within the SDK's rules and the runbook's bound", (t) => {
  fc.assert(
    fc.property(
      fc.double({ min: 0.001, max: 1440, noNaN: true }),
      fc.integer({ min: 1, max: 60 }),
      (minutes, preferred) => {
        const w = waiterTiming(minutes, preferred, 120);
        return (
          w.maxWaitTime >= Math.ceil(minutes * 60) &&
          w.minDelay >= 1 &&
          w.minDelay < w.maxWaitTime &&
          w.maxDelay >= w.minDelay &&
          w.minDelay <= preferred
        );
      },
    ),
  );
  t.deepEqual(waiterTiming(45), { maxWaitTime: 2700, minDelay: 15, maxDelay: 60 });
});

test("checkInstance names every mismatch, public access and missing encryption", (t) => {
  const expected = settingsFromOutputs(sampleOutputs("dr").database);
  const error = t.throws(() =>
    checkInstance(
      {
        DBInstanceIdentifier: "x",
        DBInstanceStatus: "available",
        DBInstanceClass: "db.t3.micro",
        DBSubnetGroup: { DBSubnetGroupName: expected.DBSubnetGroupName },
        VpcSecurityGroups: expected.VpcSecurityGroupIds.map((VpcSecurityGroupId) => ({ VpcSecurityGroupId })),
        DBParameterGroups: [{ DBParameterGroupName: "default.postgres15" }],
        MultiAZ: true,
        PubliclyAccessible: true,
        StorageEncrypted: false,
      },
      expected,
    ),
  );
  t.is(
    error!.message,
    `x does not match: DBInstanceClass is "db.t3.micro", expected "db.r6g.large"; DBParameterGroupName ` +
      `is "default.postgres15", expected "eventchain-dr-pg15"; PubliclyAccessible is true, expected false; ` +
      `StorageEncrypted is false, expected true`,
  );
});

test("a health check is unhealthy when most Route 53 checkers fail (recorded response; moto always reports success)", async (t) => {
  const proxy = await startFaultProxy("http://127.0.0.1:9", (r) =>
    r.service === "route53" ? { status: 200, body: fixture("route53-get-health-check-status-failing.xml") } : undefined,
  );
  t.teardown(() => proxy.close());
  const r53 = new Route53Client({ region: "us-east-1", endpoint: proxy.endpoint, maxAttempts: 1 });
  t.teardown(() => r53.destroy());
  t.deepEqual(await healthCheckState(r53, "hc-1"), {
    healthy: false,
    checkers: 3,
    failing: 2,
    detail: "1/3 checkers report success",
  });
});
