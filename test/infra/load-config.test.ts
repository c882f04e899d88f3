import test from "ava";
import * as pulumi from "@pulumi/pulumi";
import { ConfigError, loadConfig, loadConfigFromFiles, readRawConfig } from "../../infra/config/load.ts";

/** Config as the Pulumi engine hands it to the program: every value a string, objects as JSON. */
const asEngineConfig = (raw: Record<string, unknown>) =>
  Object.fromEntries(Object.entries(raw).map(([k, v]) => [k, typeof v === "string" ? v : JSON.stringify(v)]));

test.serial("loadConfig reads the engine's config into the same StackConfig as the stack files", async (t) => {
  await pulumi.runtime.setMocks(
    { newResource: () => ({ id: "x", state: {} }), call: () => ({}) },
    "eventchain-dr",
    "dr",
  );
  pulumi.runtime.setAllConfig(asEngineConfig(readRawConfig("dr")));
  t.deepEqual(loadConfig(), loadConfigFromFiles("dr"));
});

test.serial("loadConfig refuses bad engine config with the same messages", async (t) => {
  await pulumi.runtime.setMocks(
    { newResource: () => ({ id: "x", state: {} }), call: () => ({}) },
    "eventchain-dr",
    "prod",
  );
  const raw = readRawConfig("prod");
  raw["eventchain-dr:database"] = { backupRetentionDays: 0 };
  pulumi.runtime.setAllConfig(asEngineConfig(raw));
  const error = t.throws(() => loadConfig(), { instanceOf: ConfigError });
  t.deepEqual(error?.problems, [
    "eventchain-dr:database.backupRetentionDays: 0 is not allowed; expected an integer number of days from 1 to 35 (RDS limit; the plan keeps 30)",
  ]);
  t.true(error?.message.startsWith('invalid config for stack "prod"'));
});
