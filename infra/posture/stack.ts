/**
 * The posture of a stack, end to end and offline: evaluates the program for the stack and its
 * peer under the mock runtime (`evaluateStack`, the one way to run the program without a cloud),
 * reads the mechanisms from the declared resources of the pair, and evaluates the model. The DR
 * posture is a property of the pair, so `prod` and `dr` are each evaluated together with their
 * peer; the stack named on the command line supplies its own committed config.
 */
import type { StackConfig } from "../config/load.ts";
import { loadConfigFromFiles } from "../config/load.ts";
import { evaluateStack, type Evaluation } from "../offline/evaluate.ts";
import { evaluatePosture, type PostureReport } from "./model.ts";
import { failoverFrom, mechanismsFrom, type DeclaredResource, type PairContext } from "./mechanisms.ts";
import { longestIntervalMinutes } from "../config/validators.ts";
import { backupPathsOf } from "./backup-paths.ts";

export interface PostureOptions {
  /** Use this validated config for `stack` instead of its committed files (tests, what-ifs). */
  config?: StackConfig;
  /** Likewise for the peer stack. */
  peerConfig?: StackConfig;
  /** Change the declared resources before the model reads them (tests, what-ifs). */
  mapResources?: (resources: DeclaredResource[]) => DeclaredResource[];
}

const declared = (evaluation: Evaluation): DeclaredResource[] =>
  evaluation.resources.map((r) => ({ type: r.type, name: r.name, inputs: r.inputs ?? {}, stack: evaluation.stack }));

/** Posture of `stack` (prod or dr) with its committed config, unless `options` say otherwise. */
export async function postureOf(stack: string, options: PostureOptions = {}): Promise<PostureReport> {
  // Objectives the mechanisms miss are what this report is for: validate everything else.
  const config = options.config ?? loadConfigFromFiles(stack, undefined, { checkObjectives: false });
  const peer = options.peerConfig ?? loadConfigFromFiles(config.peerStack, undefined, { checkObjectives: false });
  const [primary, dr] = config.role === "primary" ? [config, peer] : [peer, config];
  const pair: PairContext = {
    primaryStack: primary.stack,
    primaryRegion: primary.region,
    drStack: dr.stack,
    drRegion: dr.region,
  };
  // dr first: prod reads dr's outputs through its StackReference.
  const drEvaluation = await evaluateStack(dr.stack, { config: dr });
  const primaryEvaluation = await evaluateStack(primary.stack, { config: primary, peerOutputs: drEvaluation.outputs });
  let resources = [...declared(primaryEvaluation), ...declared(drEvaluation)];
  if (options.mapResources) resources = options.mapResources(resources);
  return evaluatePosture({
    stack,
    region: pair.primaryRegion,
    peerRegion: pair.drRegion,
    objectives: config.objectives,
    classification: config.classification,
    mechanisms: mechanismsFrom(resources, pair),
    failover: failoverFrom(resources, pair),
    selfManaged: {
      databaseGiB: primary.database.allocatedStorageGb,
      baseBackupIntervalMinutes: longestIntervalMinutes(primary.schedules.fullBackup),
      // The repository's compression changes restore speed, which the calibration measures: the
      // model takes only the settings it reasons about.
      archiveTimeoutSeconds: primary.walArchiving.archiveTimeoutSeconds,
      streaming: primary.walArchiving.streaming,
    },
    backupPaths: backupPathsOf(resources, pair),
  });
}
