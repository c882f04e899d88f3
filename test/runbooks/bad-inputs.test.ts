/**
 * A table of bad inputs a new user might give — stack config, runbook flags, outputs files, state
 * directories, the environment — each refused the way the project promises: the message names
 * the bad value (or key) and what is allowed, and nothing changed.
 *
 * - Config cases: `validateConfig` / `validatePair` (what `pulumi preview/up` runs first, so the
 *   program fails before registering anything) on the committed config with one change, or
 *   `loadConfigFromFiles` on a copy of the project's YAML files; the files are compared after.
 * - Runbook cases: the real CLI path (exit code 2) against moto seeded once for the file; after
 *   each case moto's whole state (every region, every service: its own dump) and every file in
 *   the workspace (outputs files, state directory) are compared with before.
 */
import test from "ava";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { StackOutputs } from "../../contract/stack-outputs.ts";
import {
  ConfigError,
  loadConfigFromFiles,
  readRawConfig,
  REPO_ROOT,
  validateConfig,
  validatePair,
} from "../../infra/config/load.ts";
import { runbook as regionFailover } from "../../runbooks/region-failover.ts";
import { runbook as databaseRecovery } from "../../runbooks/database-recovery.ts";
import { runbook as pitr } from "../../runbooks/point-in-time-restore.ts";
import { runbook as serviceRecovery } from "../../runbooks/service-recovery.ts";
import { runbook as liftFence } from "../../runbooks/lift-fence.ts";
import { runbook as checkReplication } from "../../runbooks/check-backup-replication.ts";
import { EXIT, type ExitCode } from "../../runbooks/lib/errors.ts";
import type { Runbook } from "../../runbooks/lib/types.ts";
import { seedStacks, type Seeded } from "../../rehearsal/stand-ins/aws-seed.ts";
import { startRoute53DataPlane, type Route53DataPlane } from "../../rehearsal/stand-ins/route53-data-plane.ts";
import { awsFor, useMoto } from "../helpers/moto.ts";
import { emulatorDump } from "../helpers/emulator-state.ts";
import { treeOf } from "../helpers/file-tree.ts";
import { runRunbook } from "../helpers/run-runbook.ts";

// ---------------------------------------------------------------------------------------------
// Config

type Raw = Record<string, unknown>;
const committed = (stack: string) => structuredClone(readRawConfig(stack));
const ns = (key: string) => `eventchain-dr:${key}`;

/** The committed stack config with `change` applied to a copy of one key's value (or a key set/removed). */
function changed(stack: string, key: string, change: (v: any) => unknown): Raw {
  const raw = committed(stack);
  const value = change(structuredClone(raw[key]));
  if (value === undefined) delete raw[key];
  else raw[key] = value;
  return raw;
}

interface ConfigCase {
  name: string;
  /** Either one stack's raw config, or both of the pair. */
  raw: () => { stack: string; raw: Raw } | [{ stack: string; raw: Raw }, { stack: string; raw: Raw }];
  /** Every pattern must be in the problem list: the key or value, and what is allowed. */
  expect: RegExp[];
}

const one = (stack: string, raw: Raw) => () => ({ stack, raw });
const pair = (prod: Raw, dr: Raw) => () =>
  [
    { stack: "prod", raw: prod },
    { stack: "dr", raw: dr },
  ] as [{ stack: string; raw: Raw }, { stack: string; raw: Raw }];
const field = (stack: string, key: string, sub: string, value: unknown) =>
  one(
    stack,
    changed(stack, ns(key), (v) => ({ ...(v ?? {}), [sub]: value })),
  );

const configCases: ConfigCase[] = [
  // Namespaces: a key the program would drop is refused, with the nearest allowed key.
  ...(
    [
      ["eventchain_dr:role", "eventchain-dr:role"],
      ["EventChain-DR:role", "eventchain-dr:role"],
      ["eventchain-rd:peerStack", "eventchain-dr:peerStack"],
      ["evenchain-dr:dns", "eventchain-dr:dns"],
      ["aws:regoin", "aws:region"],
      ["aws:regions", "aws:region"],
      ["aws:profile", undefined],
      ["foo:bar", undefined],
    ] as const
  ).map(([key, near]) => ({
    name: `a key under an unknown namespace (${key})`,
    raw: one("prod", { ...committed("prod"), [key]: "x" }),
    expect: [
      new RegExp(
        `^${key.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}: unknown key; expected eventchain-dr:<key> .*, aws:region, or a pulumi: setting${near ? ` \\(did you mean "${near}"\\?\\)` : "$"}`,
      ),
    ],
  })),
  // Regions from the provider's own list.
  ...(
    [
      ["us-east-9", 'did you mean "us-east-1"'],
      ["US-EAST-1", 'did you mean "us-east-1"'],
      ["us-west", 'did you mean "us-west-1"'],
      ["eu-wset-1", 'did you mean "eu-west-1"'],
      ["", "no known region is near it"],
      ["nowhere", "no known region is near it"],
    ] as const
  ).map(([region, hint]) => ({
    name: `aws:region ${JSON.stringify(region)}`,
    raw: one("prod", { ...committed("prod"), "aws:region": region }),
    expect: [
      new RegExp(
        `^aws:region: ${JSON.stringify(region)} is not allowed; expected a region the AWS provider knows .*${hint.replace(/[()?]/g, "\\$&")}`,
      ),
    ],
  })),
  {
    name: "a peerRegion that is no region",
    raw: one("prod", { ...committed("prod"), [ns("peerRegion")]: "us-wst-2" }),
    expect: [
      /^eventchain-dr:peerRegion: "us-wst-2" is not allowed; expected a region the AWS provider knows .*did you mean "us-west-2"/,
    ],
  },
  // Unknown keys inside the namespace.
  ...(
    [
      ["databse", "database"],
      ["shedules", "schedules"],
      ["kubernets", "kubernetes"],
    ] as const
  ).map(([key, near]) => ({
    name: `an unknown top-level key ${key}`,
    raw: one("prod", { ...committed("prod"), [ns(key)]: {} }),
    expect: [
      new RegExp(`^eventchain-dr:${key}: unknown key \\(did you mean "${near}"\\?\\); expected one of role, region,`),
    ],
  })),
  {
    name: "an unknown database key",
    raw: field("prod", "database", "identifer", "x"),
    expect: [
      /^eventchain-dr:database\.identifer: unknown key \(did you mean "identifier"\?\); expected one of identifier,/,
    ],
  },
  {
    name: "an unknown backup key",
    raw: field("prod", "backup", "retentionDay", 30),
    expect: [/^eventchain-dr:backup\.retentionDay: unknown key \(did you mean "retentionDays"\?\)/],
  },
  // Field values.
  ...(
    [
      ["database", "backupRetentionDays", 0, /0 is not allowed; expected an integer number of days from 1 to 35/],
      ["database", "backupRetentionDays", 36, /36 is not allowed; expected an integer number of days from 1 to 35/],
      ["database", "backupRetentionDays", "30", /"30" is not allowed; expected an integer number of days from 1 to 35/],
      ["database", "backupRetentionDays", Number.NaN, /\.nan is not allowed; expected an integer number of days/],
      ["database", "backupRetentionDays", Number.POSITIVE_INFINITY, /\.inf is not allowed; expected an integer/],
      ["database", "backupRetentionDays", 1.5, /1\.5 is not allowed; expected an integer number of days/],
      ["database", "port", 80, /80 is not allowed; expected a port from 1150 to 65535/],
      ["database", "identifier", "Eventchain_DB", /"Eventchain_DB" is not allowed; expected an RDS identifier/],
      ["database", "identifier", "db--1", /"db--1" is not allowed; expected an RDS identifier/],
      ["database", "dbName", "1events", /"1events" is not allowed; expected a PostgreSQL database name/],
      ["database", "dbName", "event-chain", /"event-chain" is not allowed; expected a PostgreSQL database name/],
      [
        "database",
        "engineVersion",
        "9.6",
        /"9\.6" is not allowed; expected a PostgreSQL engine version string 13\.\.17/,
      ],
      ["database", "backupWindow", "3am", /"3am" is not allowed; expected a daily UTC window/],
      ["database", "maintenanceWindow", "sunday", /"sunday" is not allowed; expected a weekly UTC window/],
      ["database", "multiAz", "yes", /"yes" is not allowed; expected true or false/],
      ["backup", "retentionDays", 0, /0 is not allowed; expected an integer number of days from 1 to 36500/],
      ["backup", "objectLockDays", 4000, /4000 is not allowed; expected an integer number of days from 1 to 3650/],
      ["dns", "ttl", 0, /0 is not allowed; expected an integer number of seconds from 1 to 300/],
      ["dns", "ttl", 301, /301 is not allowed; expected an integer number of seconds from 1 to 300/],
      ["dns", "recordType", "AAAA", /"AAAA" is not allowed; expected one of CNAME/],
      ["dns", "hostedZoneId", "zone-1", /"zone-1" is not allowed; expected a Route 53 hosted zone id/],
      ["dns", "recordName", "API.EventChain.com", /"API\.EventChain\.com" is not allowed; expected a DNS name/],
      ["dns", "failoverMode", "manual", /"manual" is not allowed; expected one of switch, automatic/],
      ["cache", "numCacheClusters", 1, /1 is not allowed; expected an integer from 2 to 6 \(Multi-AZ needs 2\)/],
      ["cache", "engineVersion", "5.0", /"5\.0" is not allowed; expected a Redis engine version string 6\.x or 7\.x/],
      [
        "cache",
        "snapshotRetentionDays",
        40,
        /40 is not allowed; expected an integer number of days from 1 to 35 \(ElastiCache limit\)/,
      ],
      ["alerts", "emails", ["ops-at-example"], /"ops-at-example" is not allowed; expected an e-mail address/],
      [
        "alerts",
        "httpsEndpoints",
        ["http://hooks.example.com/x"],
        /"http:\/\/hooks\.example\.com\/x" is not allowed; expected an https:\/\/ URL/,
      ],
      [
        "schedules",
        "redisExport",
        "cron(30 5 * * *)",
        /"cron\(30 5 \* \* \*\)" is not allowed; expected an expression EventBridge Scheduler accepts \(cron\(\) needs 6 fields/,
      ],
      [
        "schedules",
        "databaseBackup",
        "rate(6 hours)",
        /"rate\(6 hours\)" is not allowed; expected an expression AWS Backup accepts/,
      ],
      ["kubernetes", "namespace", "Event_Chain", /"Event_Chain" is not allowed; expected a Kubernetes namespace name/],
      [
        "walArchiving",
        "archiveTimeoutSeconds",
        0,
        /0 is not allowed; expected an integer number of seconds from 1 to 3600/,
      ],
      ["logicalBackups", "cpu", 300, /300 is not allowed; expected one of 256, 512, 1024, 2048, 4096/],
      [
        "logicalBackups",
        "appConfigDirs",
        ["etc/eventchain"],
        /"etc\/eventchain" is not allowed; expected an absolute directory path/,
      ],
    ] as const
  ).map(([key, sub, value, expect]) => ({
    name: `${key}.${sub} ${typeof value === "number" ? String(value) : JSON.stringify(value)}`,
    raw: field("prod", key, sub, value),
    expect: [new RegExp(`^eventchain-dr:${key}\\.${sub}(\\.0)?: ${expect.source}`)],
  })),
  {
    name: "a missing network mapping",
    raw: one(
      "prod",
      changed("prod", ns("network"), () => undefined),
    ),
    expect: [
      /^eventchain-dr:network: missing; expected a mapping with vpcId, privateSubnetIds, publicSubnetIds, appSecurityGroupIds$/,
    ],
  },
  {
    name: "a network that is a string",
    raw: one("prod", { ...committed("prod"), [ns("network")]: "vpc-1" }),
    expect: [/^eventchain-dr:network: "vpc-1" is not allowed; expected a mapping with vpcId,/],
  },
  {
    name: "a VPC id of the wrong shape",
    raw: field("prod", "network", "vpcId", "vpc-1"),
    expect: [/^eventchain-dr:network\.vpcId: "vpc-1" is not allowed; expected a VPC id vpc-xxxxxxxx/],
  },
  {
    name: "a vault lock whose minimum exceeds its maximum (not blamed on retentionDays)",
    raw: field("prod", "backup", "vaultLock", { minRetentionDays: 40, maxRetentionDays: 35 }),
    expect: [
      /^eventchain-dr:backup\.vaultLock\.minRetentionDays: 40 is not allowed; expected at most backup\.vaultLock\.maxRetentionDays 35/,
    ],
  },
  {
    name: "an Object Lock of 3650 days next to 7-90-day expiry",
    raw: field("prod", "backup", "objectLockDays", 3650),
    expect: [
      /^eventchain-dr:backup\.objectLockDays: 3650 is not allowed; expected at most the longest prefix retention \(90 days/,
    ],
  },
  {
    name: "an Object Lock shorter than the code retention",
    raw: field("prod", "backup", "objectLockDays", 30),
    expect: [
      /^eventchain-dr:backup\.objectLockDays: 30 is not allowed; expected at least the longest prefix retention/,
    ],
  },
  {
    name: "a repository URL with credentials (masked in the message)",
    raw: field("prod", "logicalBackups", "codeRepository", {
      url: "https://deploy:s3cr3t@github.com/eventchain/app.git",
    }),
    expect: [
      /^eventchain-dr:logicalBackups\.codeRepository\.url: "https:\/\/\*\*\*@github\.com\/eventchain\/app\.git" is not allowed; expected an https:\/\/ git URL without credentials/,
    ],
  },
  {
    name: "two replication rules with one id",
    raw: one(
      "prod",
      changed("prod", ns("replication"), () => ({
        rules: [
          { id: "Media", prefix: "media/" },
          { id: "Media", prefix: "other/" },
        ],
      })),
    ),
    expect: [
      /^eventchain-dr:replication\.rules\.1\.id: "Media" is not allowed; expected a rule id not used by another rule/,
    ],
  },
  {
    name: "a role that is neither primary nor dr",
    raw: one("prod", { ...committed("prod"), [ns("role")]: "standby" }),
    expect: [/^eventchain-dr:role: "standby" is not allowed; expected one of primary, dr/],
  },
  // The two stacks together.
  {
    name: "two stacks that both say primary: one problem, not six missing keys",
    raw: pair(committed("prod"), { ...committed("dr"), [ns("role")]: "primary" }),
    expect: [/^eventchain-dr:role: stacks prod and dr both say "primary"; expected exactly one "primary" and one "dr"/],
  },
  {
    name: "two stacks that both say dr",
    raw: pair({ ...committed("prod"), [ns("role")]: "dr" }, committed("dr")),
    expect: [/^eventchain-dr:role: stacks prod and dr both say "dr"; expected exactly one "primary" and one "dr"/],
  },
  {
    name: "a prod peerRegion that is not dr's region",
    raw: pair({ ...committed("prod"), [ns("peerRegion")]: "us-west-1" }, committed("dr")),
    expect: [
      /^stack prod: eventchain-dr:peerRegion: "us-west-1" is not allowed; expected "us-west-2", the aws:region of its peer stack dr/,
    ],
  },
  {
    name: "a dr peerRegion that is not prod's region",
    raw: pair(committed("prod"), { ...committed("dr"), [ns("peerRegion")]: "us-east-2" }),
    expect: [
      /^stack dr: eventchain-dr:peerRegion: "us-east-2" is not allowed; expected "us-east-1", the aws:region of its peer stack prod/,
    ],
  },
  {
    name: "a dr stack whose peer is not prod",
    raw: pair(committed("prod"), { ...committed("dr"), [ns("peerStack")]: "staging" }),
    expect: [
      /^stack dr: eventchain-dr:peerStack: "staging" is not allowed; expected "prod", the other stack of the pair/,
    ],
  },
  {
    name: "a prod retention dr's vault lock refuses",
    raw: pair(
      changed("prod", ns("backup"), (b) => ({ ...b, retentionDays: 60, vaultLock: { maxRetentionDays: 90 } })),
      committed("dr"),
    ),
    expect: [
      /^stack prod: eventchain-dr:backup\.retentionDays: 60 is not allowed; expected a value within stack dr's vault lock 7\.\.35 days/,
    ],
  },
  {
    name: "dr keeping replicated database backups shorter than prod",
    raw: pair(
      committed("prod"),
      changed("dr", ns("backup"), (b) => ({ ...b, bucketRetentionDays: { database: 10 } })),
    ),
    expect: [
      /^stack dr: eventchain-dr:backup\.bucketRetentionDays\.database: 10 is not allowed; expected at least 30, stack prod's retention/,
    ],
  },
];

/** A copy of the project's YAML files in a temp dir, `edit` applied to one of them. */
function projectCopy(t: { teardown(fn: () => void): void }, file: string, edit: (text: string) => string): string {
  const dir = mkdtempSync(join(tmpdir(), "config-case-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  for (const f of ["Pulumi.yaml", "Pulumi.prod.yaml", "Pulumi.dr.yaml"]) copyFileSync(join(REPO_ROOT, f), join(dir, f));
  writeFileSync(join(dir, file), edit(readFileSync(join(dir, file), "utf8")));
  return dir;
}

const yamlCases: { name: string; file: string; edit: (text: string) => string; expect: RegExp }[] = [
  {
    name: "a duplicated top-level key",
    file: "Pulumi.prod.yaml",
    edit: (s) =>
      s.replace("  eventchain-dr:role: primary\n", "  eventchain-dr:role: primary\n  eventchain-dr:role: dr\n"),
    expect:
      /^Pulumi\.prod\.yaml at line \d+, column \d+: Map keys must be unique; expected valid YAML \(each key once per mapping\)$/,
  },
  {
    name: "a duplicated system in the classification",
    file: "Pulumi.yaml",
    edit: (s) => s.replace("      payments: critical\n", "      payments: critical\n      payments: standard\n"),
    expect: /^Pulumi\.yaml at line \d+, column \d+: Map keys must be unique/,
  },
  {
    name: "a duplicated tier in the objectives",
    file: "Pulumi.yaml",
    edit: (s) =>
      s.replace(
        "      standard: { rtoMinutes: 1440, rpoMinutes: 1440 }\n",
        "      standard: { rtoMinutes: 1440, rpoMinutes: 1440 }\n      standard: { rtoMinutes: 60, rpoMinutes: 60 }\n",
      ),
    expect: /^Pulumi\.yaml at line \d+, column \d+: Map keys must be unique/,
  },
  {
    name: "bad indentation",
    file: "Pulumi.dr.yaml",
    edit: (s) => s.replace("  eventchain-dr:role: dr\n", "  eventchain-dr:role: dr\n     eventchain-dr:oops: 1\n"),
    expect: /^Pulumi\.dr\.yaml at line \d+, column \d+: /,
  },
  {
    name: "a tab in the indentation",
    file: "Pulumi.dr.yaml",
    edit: (s) => s.replace("  eventchain-dr:role: dr\n", "\teventchain-dr:role: dr\n"),
    expect: /^Pulumi\.dr\.yaml at line \d+, column \d+: /,
  },
  {
    name: ".nan as a retention, shown as written",
    file: "Pulumi.prod.yaml",
    edit: (s) => s.replace("config:\n", "config:\n  eventchain-dr:database:\n    backupRetentionDays: .nan\n"),
    expect:
      /^eventchain-dr:database\.backupRetentionDays: \.nan is not allowed; expected an integer number of days from 1 to 35/,
  },
];

const problemsOf = (c: ConfigCase): string[] => {
  const input = c.raw();
  try {
    if (Array.isArray(input)) validatePair(input[0], input[1]);
    else validateConfig(input.raw, input.stack);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  return [];
};

for (const c of configCases) {
  test(`config: ${c.name} is refused, naming the key and what is allowed`, (t) => {
    const problems = problemsOf(c);
    t.true(problems.length > 0, "refused");
    for (const e of c.expect)
      t.true(
        problems.some((p) => e.test(p)),
        `${e}\n${problems.join("\n")}`,
      );
    t.false(
      problems.some((p) => /s3cr3t|deploy:/.test(p)),
      "no credential in any message",
    );
  });
}

for (const c of yamlCases) {
  test(`config file: ${c.name} is refused naming the file (files unchanged)`, (t) => {
    const dir = projectCopy(t, c.file, c.edit);
    const before = treeOf(dir);
    const error = t.throws(() => loadConfigFromFiles(c.file === "Pulumi.dr.yaml" ? "dr" : "prod", dir), {
      instanceOf: ConfigError,
    });
    t.true(
      error!.problems.some((p) => c.expect.test(p)),
      error!.problems.join("\n"),
    );
    t.deepEqual(treeOf(dir), before);
  });
}

// ---------------------------------------------------------------------------------------------
// Runbooks against the emulator

const moto = useMoto(test);
let seeded: Seeded | undefined;
let plane: Route53DataPlane | undefined;
/** Seeds once, at the first runbook case (ava runs before hooks side by side: moto may not be up yet). */
async function ready(): Promise<Seeded> {
  if (seeded) return seeded;
  await moto().reset();
  plane = await startRoute53DataPlane(moto().endpoint, () => seeded!.prod);
  seeded = await seedStacks(moto().endpoint, {
    failover: { nameServers: plane.nameServers, detectionSeconds: 3 },
    ttl: 2,
  });
  return seeded;
}
test.after.always(async () => {
  await plane?.close();
});

interface RunCase {
  name: string;
  runbook?: Runbook<any>;
  /** Arguments after the outputs and state-dir ones (which `args` may replace entirely). */
  args: string[] | ((ws: { dir: string; file: string; stateDir: string }) => string[]);
  /** The outputs file content (default the seeded stacks), or raw text. */
  outputs?: (s: Seeded) => unknown;
  env?: Record<string, string>;
  /** Must be in the output (stdout): the value and what is allowed. */
  expect: RegExp;
  /** The exit code (default 2, bad input). */
  exit?: ExitCode;
}

const withDr = (s: Seeded, f: (dr: StackOutputs) => StackOutputs) => ({ ...s.file, dr: f(s.dr) });
const withProd = (s: Seeded, f: (p: StackOutputs) => StackOutputs) => ({ ...s.file, prod: f(s.prod) });
const drBackup = (key: string, value: unknown) => (s: Seeded) =>
  withDr(s, (dr) => ({ ...dr, backup: { ...dr.backup, [key]: value } }));

const numberCases = (flag: string, values: string[], allowed: string, runbook?: Runbook<any>, extra: string[] = []) =>
  values.map((v) => ({
    name: `--${flag} ${JSON.stringify(v)}`,
    ...(runbook ? { runbook } : {}),
    args: [`--${flag}`, v, ...extra],
    expect: new RegExp(
      `invalid --${flag} ${JSON.stringify(v).replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}: expected ${allowed}`,
    ),
  }));

const runCases: RunCase[] = [
  ...numberCases(
    "max-wait-minutes",
    ["0", "-5", "abc", "1e9", "", "NaN", "Infinity", "1441"],
    "a number greater than 0 and at most 1440",
  ),
  ...numberCases("health-attempts", ["0", "-1", "x", "1001"], "a number greater than 0 and at most 1000"),
  ...numberCases("health-attempts", ["1.5"], "a whole number from 1 to 1000"),
  ...numberCases("primary-timeout-seconds", ["0", "-3", "soon", "301"], "a number greater than 0 and at most 300"),
  ...numberCases("max-wait-minutes", ["0", "-1"], "a number greater than 0 and at most 1440", pitr, [
    "--time",
    "latest",
  ]),
  ...numberCases("max-lag-minutes", ["0", "-2"], "a number greater than 0", checkReplication),
  ...[
    "yesterday",
    "2026-02-30T00:00:00Z",
    "2026-01-01T24:00:00Z",
    "2026-01-01T00:00:00",
    "2026-13-01T00:00:00Z",
    "2026-01-01T00:00:00+15:00",
    "2026-01-01 00:00:00Z",
  ].map((v) => ({
    name: `--incident-at ${JSON.stringify(v)}`,
    args: ["--incident-at", v],
    expect: new RegExp(
      `invalid --incident-at ${JSON.stringify(v).replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}: .*expected an ISO 8601 time with a zone`,
    ),
  })),
  {
    name: "--incident-at in the future",
    args: ["--incident-at", "2999-01-01T00:00:00Z", "--force"],
    expect: /--incident-at 2999-01-01T00:00:00\.000Z is in the future: expected a time at or before now/,
  },
  ...["a/b", "../x", ".hidden", "a b", "x;rm -rf", "x".repeat(101), "line\nbreak"].map((v) => ({
    name: `--run-id ${JSON.stringify(v)}`,
    args: ["--run-id", v],
    expect: new RegExp(
      `invalid run id ${JSON.stringify(v).replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}: expected letters, digits, "\\.", "_" or "-"`,
    ),
  })),
  {
    name: "--resume of a run id with a slash",
    args: ["--resume", "a/b"],
    expect: /invalid run id "a\/b": expected letters, digits/,
  },
  {
    name: "--resume of a run that does not exist",
    args: ["--resume", "region-failover-nope"],
    expect:
      /no journal for run id "region-failover-nope" in \S+ nor in the shared store s3:\/\/\S+ .*: check the run id and the stack/,
  },
  {
    name: "--resume with --run-id",
    args: ["--resume", "r1", "--run-id", "r2"],
    expect: /--resume and --run-id cannot be combined: --resume continues an existing run id/,
  },
  ...["a b", "prod;rm", "prod$(x)"].map((v) => ({
    name: `--stack ${JSON.stringify(v)}`,
    args: (w: { file: string; stateDir: string }) => ["--outputs", w.file, "--stack", v, "--state-dir", w.stateDir],
    expect: new RegExp(
      `invalid --stack ${JSON.stringify(v).replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}: expected a Pulumi stack name`,
    ),
  })),
  {
    name: "--stack naming a stack the outputs file does not hold",
    args: (w) => ["--outputs", w.file, "--stack", "staging", "--state-dir", w.stateDir],
    expect: /unknown stack "staging": --outputs file "\S+" holds prod, dr/,
  },
  {
    name: "no outputs source at all",
    args: (w) => ["--state-dir", w.stateDir],
    expect: /no outputs source: give --stack <name> \(reads Pulumi\) or --outputs <file\.json>/,
  },
  {
    name: "an unknown flag",
    args: ["--bogus"],
    expect: /Unknown option '--bogus'[\s\S]*Run with --help for the options/,
  },
  { name: "a positional argument", args: ["extra"], expect: /Unexpected argument 'extra'[\s\S]*Run with --help/ },
  {
    name: "a value given to a boolean flag",
    args: ["--yes=1"],
    expect: /Option '--yes' does not take an argument[\s\S]*Run with --help/,
  },
  {
    name: "a string flag without its value",
    args: ["--run-id"],
    expect: /Option '--run-id <value>' argument missing[\s\S]*Run with --help/,
  },
  {
    name: "a string flag whose value is missing (the next flag taken for it)",
    args: ["--run-id", "--force"],
    expect: /Option '--run-id' argument is ambiguous[\s\S]*Run with --help for the options/,
  },
  // Runbook-specific options.
  ...["Bad_Id", "1abc", "a--b", "x-"].map((v) => ({
    name: `database-recovery --use-instance ${JSON.stringify(v)}`,
    runbook: databaseRecovery,
    args: ["--use-instance", v],
    expect: new RegExp(`invalid --use-instance "${v}": expected an RDS DB instance identifier: 1 to 63 letters`),
  })),
  {
    name: "point-in-time-restore without --time",
    runbook: pitr,
    args: [],
    expect: /missing --time: give an ISO 8601 time with a zone .* or "latest"/,
  },
  {
    name: "point-in-time-restore --time soon",
    runbook: pitr,
    args: ["--time", "soon"],
    expect: /invalid --time "soon": expected an ISO 8601 time with a zone/,
  },
  {
    name: "point-in-time-restore --engine bogus",
    runbook: pitr,
    args: ["--time", "latest", "--engine", "bogus"],
    expect: /unknown --engine "bogus": expected one of rds, pgbackrest/,
  },
  {
    name: "point-in-time-restore --target-id Bad_ID",
    runbook: pitr,
    args: ["--time", "latest", "--target-id", "Bad_ID"],
    expect: /invalid --target-id "Bad_ID": expected 1-63 letters, digits or single hyphens/,
  },
  {
    name: "point-in-time-restore --engine rds --stanza x (another engine's option)",
    runbook: pitr,
    args: ["--time", "latest", "--engine", "rds", "--stanza", "x"],
    expect: /--stanza applies to --engine pgbackrest, not rds: leave it out, or use --engine pgbackrest/,
  },
  {
    name: "point-in-time-restore --engine rds --before-xid 5",
    runbook: pitr,
    args: ["--time", "latest", "--before-xid", "5"],
    expect: /--before-xid applies to --engine pgbackrest, not rds/,
  },
  {
    name: "service-recovery --service nope",
    runbook: serviceRecovery,
    args: ["--service", "nope"],
    expect:
      /unknown --service "nope" in cluster eventchain-prod: expected one of eventchain-backend-prod, eventchain-frontend-prod \(or --all\)/,
  },
  {
    name: "service-recovery with no target",
    runbook: serviceRecovery,
    args: [],
    expect: /missing target: give --service <name> or --all/,
  },
  {
    name: "service-recovery --service and --all",
    runbook: serviceRecovery,
    args: ["--service", "x", "--all"],
    expect: /give either --service <name> or --all, not both/,
  },
  {
    name: "lift-fence without --fence",
    runbook: liftFence,
    args: [],
    expect: /missing --fence: expected the run id in the instance's tag eventchain:fenced-by \(or "unrecorded"\)/,
  },
  // Outputs files.
  {
    name: "an outputs file that does not exist",
    args: (w) => ["--outputs", join(w.dir, "nope.json"), "--stack", "prod", "--state-dir", w.stateDir],
    expect: /--outputs file "\S+nope\.json" cannot be read \(ENOENT\): expected a readable JSON file of stack outputs/,
  },
  {
    name: "an outputs file that is a directory",
    args: (w) => ["--outputs", w.dir, "--stack", "prod", "--state-dir", w.stateDir],
    expect: /--outputs file "\S+" cannot be read \(EISDIR\): expected a readable JSON file/,
  },
  {
    name: "an outputs file that is not JSON",
    outputs: () => "{ not json",
    args: [],
    expect: /--outputs file "\S+" is not JSON: /,
  },
  {
    name: "an outputs file holding an array",
    outputs: () => [],
    args: [],
    expect: /--outputs file "\S+" must hold a JSON object/,
  },
  {
    name: "an outputs file holding null",
    outputs: () => null,
    args: [],
    expect: /--outputs file "\S+" must hold a JSON object/,
  },
  {
    name: "an empty outputs object",
    outputs: () => ({}),
    args: [],
    expect: /unknown stack "prod": --outputs file "\S+" holds no stacks/,
  },
  {
    name: "an outputs file without the peer stack",
    outputs: (s) => ({ prod: s.prod }),
    args: [],
    expect: /this runbook needs the peer stack "dr" too, but --outputs file "\S+" does not hold it/,
  },
  ...(
    [
      ["contractVersion", undefined, /contractVersion: /],
      ["contractVersion", 2, /contractVersion: /],
      ["database", undefined, /database: /],
      ["role", "standby", /role: /],
      ["region", 42, /region: /],
      ["peerStack", "", /peerStack: /],
      ["dns", { recordType: "AAAA" }, /dns\.\S+: /],
      ["failover", { nameServers: "ns1" }, /failover\.\S+: /],
      ["services", { services: "all" }, /services\.\S+: /],
    ] as const
  ).map(([key, value, expect]) => ({
    name: `outputs where prod's ${key} is ${JSON.stringify(value) ?? "missing"}`,
    outputs: (s: Seeded) =>
      withProd(s, (p) => {
        const o = structuredClone(p) as any;
        if (value === undefined) delete o[key];
        else if (typeof value === "object") o[key] = { ...o[key], ...value };
        else o[key] = value;
        return o;
      }),
    args: [],
    expect: new RegExp(
      `stack outputs from \\S+ \\(stack prod\\) do not match the contract \\(v1\\):\\n(.*\\n)*? {2}- ${expect.source}`,
    ),
  })),
  ...(
    [
      ["database.port", (p: any) => ({ ...p, database: { ...p.database, port: "5432" } }), /database\.port: /],
      ["dns.ttl", (p: any) => ({ ...p, dns: { ...p.dns, ttl: 1.5 } }), /dns\.ttl: /],
      [
        "services.services[0].recoveryCount",
        (p: any) => ({
          ...p,
          services: { ...p.services, services: [{ ...p.services.services[0], recoveryCount: -1 }] },
        }),
        /services\.services\.0\.recoveryCount: /,
      ],
    ] as const
  ).map(([what, f, expect]) => ({
    name: `outputs where dr's ${what} has the wrong type`,
    outputs: (s: Seeded) => withDr(s, f as (d: StackOutputs) => StackOutputs),
    args: [],
    expect: new RegExp(`stack outputs from \\S+ \\(stack dr\\) do not match the contract[\\s\\S]*- ${expect.source}`),
  })),
  // Names AWS would refuse, found by the preflight before anything is created.
  ...(
    [
      ["Eventchain_Backups", "backup bucket"],
      ["ab", "backup bucket"],
      ["eventchain..backups", "backup bucket"],
      ["192.168.5.4", "backup bucket"],
      ["xn--eventchain", "backup bucket"],
      ["eventchain-backups-s3alias", "backup bucket"],
    ] as const
  ).map(([name, what]) => ({
    name: `a DR ${what} name S3 refuses (${name})`,
    outputs: drBackup("bucketName", name),
    args: ["--force"],
    expect: new RegExp(
      `- ${what} \\(dr\\) ${JSON.stringify(name).replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}: is not a name AWS accepts: expected an S3 bucket name: 3 to 63 lowercase letters`,
    ),
  })),
  ...(
    [
      ["instanceIdentifier", "eventchain--dr", "DB instance identifier to restore", "an RDS DB instance identifier"],
      ["instanceIdentifier", "1-eventchain", "DB instance identifier to restore", "an RDS DB instance identifier"],
      ["instanceIdentifier", "eventchain-dr-", "DB instance identifier to restore", "an RDS DB instance identifier"],
      [
        "instanceIdentifier",
        `e${"x".repeat(63)}`,
        "DB instance identifier to restore",
        "an RDS DB instance identifier",
      ],
      ["dbName", "select", "database name", "an RDS for PostgreSQL database name"],
      ["dbName", "event-chain", "database name", "an RDS for PostgreSQL database name"],
      ["dbName", "9events", "database name", "an RDS for PostgreSQL database name"],
    ] as const
  ).map(([key, value, what, rule]) => ({
    name: `a DR ${key} RDS refuses (${value.length > 20 ? `${value.length} characters` : value})`,
    outputs: (s: Seeded) => withDr(s, (dr) => ({ ...dr, database: { ...dr.database, [key]: value } })),
    args: ["--force"],
    expect: new RegExp(`- ${what} \\(dr\\) "${value}": is not a name AWS accepts: expected ${rule}`),
  })),
  {
    name: "an outputs file whose DR instance names nothing that exists is still refused for its gaps",
    outputs: (s) => withDr(s, (dr) => ({ ...dr, database: { ...dr.database, subnetGroupName: "gone" } })),
    args: ["--force"],
    expect: /- DB subnet group gone \(us-west-2\): does not exist/,
  },
  {
    name: "an empty name-server list",
    outputs: (s) => ({ prod: { ...s.prod, failover: { ...s.prod.failover, nameServers: [] } }, dr: s.dr }),
    args: ["--force"],
    expect: /: cannot be proved: the outputs list no authoritative name server \(failover\.nameServers\)/,
  },
  // State directories.
  {
    name: "a state dir under a regular file",
    args: (w) => ["--outputs", w.file, "--stack", "prod", "--state-dir", join(w.file, "runs")],
    expect:
      /--state-dir "\S+outputs\.json\/runs": \S+outputs\.json is a file, not a directory: expected a directory \(or a path under one\) where run journals can be written/,
  },
  {
    name: "a state dir that is a regular file",
    args: (w) => ["--outputs", w.file, "--stack", "prod", "--state-dir", w.file],
    expect: /--state-dir "\S+outputs\.json": \S+outputs\.json is a file, not a directory/,
  },
  {
    name: "a state dir under a device",
    args: (w) => ["--outputs", w.file, "--stack", "prod", "--state-dir", "/dev/null/runs"],
    expect: /--state-dir "\/dev\/null\/runs": \/dev\/null is a file, not a directory/,
  },
  {
    name: "a state dir with a newline",
    args: (w) => ["--outputs", w.file, "--stack", "prod", "--state-dir", join(w.dir, "runs\nWARNING: forged")],
    expect:
      /invalid --state-dir "\S+runs\\nWARNING: forged": expected a directory path without newlines or other control characters/,
  },
  {
    name: "a state dir with an escape sequence",
    args: (w) => ["--outputs", w.file, "--stack", "prod", "--state-dir", join(w.dir, "runs\u001b[2J")],
    expect: /invalid --state-dir "\S+runs\\u001b\[2J": expected a directory path without newlines/,
  },
  ...(
    [
      [
        '{"version": 1, "runId": "r1",',
        /is damaged \(not JSON: .*\); it was not written by the runbook, which replaces it whole\. Restore it from the shared copy \(resume with --stack <name> to read that one\) or a backup, or start a new run/,
      ],
      ["", /is damaged \(not JSON: /],
      ["[1, 2]", /is damaged \(not a journal object\); start a new run or restore it/],
    ] as const
  ).map(([text, expect], i) => ({
    name: `a damaged journal.json (${["cut short", "empty", "an array"][i]}) on --resume`,
    args: (w: { file: string; stateDir: string }) => {
      mkdirSync(join(w.stateDir, "r1"), { recursive: true });
      writeFileSync(join(w.stateDir, "r1", "journal.json"), text);
      return ["--outputs", w.file, "--stack", "prod", "--state-dir", w.stateDir, "--resume", "r1"];
    },
    expect: new RegExp(`journal \\S+r1/journal\\.json ${expect.source}`),
  })),
  // The environment.
  {
    name: "SLACK_WEBHOOK_URL over plain http (never shown)",
    env: { SLACK_WEBHOOK_URL: "http://hooks.slack.com/services/T0/B0/s3cr3t" },
    args: [],
    expect: /SLACK_WEBHOOK_URL is not an https:\/\/ URL \(value not shown: it is a credential\)/,
  },
  {
    name: "SLACK_WEBHOOK_URL that is no URL",
    env: { SLACK_WEBHOOK_URL: "s3cr3t" },
    args: [],
    expect: /SLACK_WEBHOOK_URL is not an https:\/\/ URL/,
  },
  ...["0", "many", "1.5", "100"].map((v) => ({
    name: `AWS_MAX_ATTEMPTS ${v}`,
    env: { AWS_MAX_ATTEMPTS: v },
    args: [],
    expect: new RegExp(
      `AWS_MAX_ATTEMPTS "${v.replace(".", "\\.")}": expected a whole number of attempts per call from 1 to 20`,
    ),
  })),
  {
    name: "AWS_ENDPOINT_URL that is no URL",
    env: { AWS_ENDPOINT_URL: "localhost:4566" },
    args: [],
    expect: /AWS_ENDPOINT_URL "localhost:4566": expected an http:\/\/ or https:\/\/ URL/,
  },
  {
    name: "BACKUP_JOB with spaces",
    env: { BACKUP_JOB: "code bundle" },
    args: [],
    expect: /BACKUP_JOB "code bundle": expected a job id of lowercase letters, digits and hyphens/,
  },
  {
    name: "two bad variables at once",
    env: { AWS_MAX_ATTEMPTS: "x", BACKUP_JOB: "A" },
    args: [],
    expect: /2 environment variables cannot work:\n {2}- AWS_MAX_ATTEMPTS "x"[\s\S]*- BACKUP_JOB "A"/,
  },
];

/** Sets `env` for the duration of `fn` (the CLI reads process.env). */
async function withEnv<T>(env: Record<string, string> | undefined, fn: () => Promise<T>): Promise<T> {
  const saved = Object.fromEntries(Object.keys(env ?? {}).map((k) => [k, process.env[k]]));
  Object.assign(process.env, env ?? {});
  try {
    return await fn();
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}

for (const c of runCases) {
  test.serial(
    `${c.runbook?.name ?? "region-failover"}: ${c.name} is refused (exit ${c.exit ?? 2}), naming it, nothing changed`,
    async (t) => {
      const dir = mkdtempSync(join(tmpdir(), "bad-input-"));
      t.teardown(() => rmSync(dir, { recursive: true, force: true }));
      const s = await ready();
      const content = c.outputs ? c.outputs(s) : s.file;
      const file = join(dir, "outputs.json");
      writeFileSync(file, typeof content === "string" ? content : JSON.stringify(content));
      const stateDir = join(dir, "runs");
      const w = { dir, file, stateDir };
      const args =
        typeof c.args === "function"
          ? c.args(w)
          : ["--outputs", file, "--stack", "prod", "--state-dir", stateDir, ...c.args];
      const beforeFiles = treeOf(dir);
      const beforeAws = await emulatorDump(moto().endpoint);
      const res = await withEnv(c.env, () =>
        runRunbook(c.runbook ?? regionFailover, ["--yes", ...args], { aws: awsFor(moto().endpoint) }),
      );
      t.is(res.exitCode, c.exit ?? EXIT.badInput, res.stdout + res.stderr.slice(-1500));
      t.regex(res.stdout + res.stderr, c.expect);
      t.false(/s3cr3t/.test(res.stdout + res.stderr), "no credential in the output");
      t.deepEqual(treeOf(dir), beforeFiles, "no file changed, none appeared");
      t.deepEqual(await emulatorDump(moto().endpoint), beforeAws, "the emulator is exactly as before");
    },
  );
}

test("the table holds at least 150 bad inputs", (t) => {
  const total = configCases.length + yamlCases.length + runCases.length;
  t.log(`${configCases.length} config, ${yamlCases.length} config files, ${runCases.length} runbook inputs: ${total}`);
  t.true(total >= 150, `${total} cases`);
});
