/**
 * Runs the program offline under `pulumi.runtime.setMocks`, with a stack's committed config
 * (or overrides of it), and returns every resource it declares and its resolved outputs. The
 * posture report and the infra tests are built on this. Evaluating `prod` first evaluates its
 * peer (`dr`) and feeds those outputs to prod's StackReference, as `pulumi up` would read them.
 */
import * as pulumi from "@pulumi/pulumi";
import { readRawConfig, REPO_ROOT, validateConfig, type StackConfig, type ValidateOptions } from "../config/load.ts";
import type { LiveDatabase } from "../../contract/fence-record.ts";
import { parseStackOutputs, type StackOutputs } from "../../contract/stack-outputs.ts";
import { buildStack } from "../stacks/program.ts";
import { mockResourceState, MOCK_ACCOUNT_ID, MOCK_NAME_SERVERS } from "./mock-state.ts";

export interface EvaluatedResource {
  /** Pulumi type token, e.g. aws:rds/instance:Instance or eventchain:backup:Database. */
  type: string;
  /** Logical name. */
  name: string;
  /** Inputs as the program declared them (resolved; secrets unwrapped, see `secretInputs`). */
  inputs: Record<string, any>;
  /** Names of the top-level inputs that are Pulumi secrets. */
  secretInputs: string[];
  /** Physical id the mock runtime gave it (absent for components and references). */
  id?: string;
  /** Whether a provider manages it (false for components). */
  custom: boolean;
  /** Region of the provider it is created with, for AWS resources. */
  region?: string;
  /** Logical name of the explicit provider it uses, when it has one. */
  provider?: string;
  /** URN of the resource and of its parent component (absent at the top level). */
  urn?: string;
  parent?: string;
  /** Resource options that carry the plan: `protect` and `ignoreChanges`. */
  protect: boolean;
  ignoreChanges: string[];
}

export interface Evaluation {
  stack: string;
  config: StackConfig;
  resources: EvaluatedResource[];
  outputs: StackOutputs;
}

export interface EvaluateOptions extends ValidateOptions {
  /** Replace these config keys (`eventchain-dr:database`, `aws:region`…) of the committed config. */
  overrides?: Record<string, unknown>;
  /** Use this config instead of reading the stack files. */
  config?: StackConfig;
  /** Outputs of the peer stack for the StackReference (default: evaluate the peer stack). */
  peerOutputs?: StackOutputs;
  /** Directory holding Pulumi.yaml and the stack files. Default: the repository root. */
  projectDir?: string;
  /** Receives each resource as it is registered (lets a caller see what was declared before a failure). */
  resources?: EvaluatedResource[];
  /** What the program's reads of live state answer (default: no RDS instance exists yet). */
  live?: LiveState;
}

/** Live state the mocked data sources answer: the primary stack reads its database's fence (contract/fence-record.ts). */
export interface LiveState {
  /** RDS instances that exist, with their tags and security groups. */
  databases?: LiveDatabase[];
  /** Every RDS read fails with this message (an unreachable or forbidden API). */
  rdsReadError?: string;
}

/** Pulumi's wire marker of a secret value. */
const SECRET_SIG = "4dabf18193072939515e22adb298388d";
const SECRET_VALUE = "1b47061264138c4ac30d75fd1eb44270";
const isSecret = (v: unknown): v is { value: unknown } =>
  v !== null && typeof v === "object" && (v as Record<string, unknown>)[SECRET_SIG] === SECRET_VALUE;

function unwrapSecrets(v: any): any {
  if (isSecret(v)) return unwrapSecrets(v.value);
  if (Array.isArray(v)) return v.map(unwrapSecrets);
  if (v !== null && typeof v === "object")
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, unwrapSecrets(x)]));
  return v;
}

interface RegisterRequest {
  getType(): string;
  getName(): string;
  getParent(): string;
  getProtect(): boolean | undefined;
  getIgnorechangesList(): string[];
}

let queue: Promise<unknown> = Promise.resolve();

/** Evaluates `stack`; calls are serialized (the mock runtime is process-global). */
export async function evaluateStack(stack: string, opts: EvaluateOptions = {}): Promise<Evaluation> {
  const config =
    opts.config ??
    validateConfig({ ...readRawConfig(stack, opts.projectDir ?? REPO_ROOT), ...opts.overrides }, stack, opts);
  let peer = opts.peerOutputs;
  if (config.role === "primary" && !peer) {
    const evaluation = await evaluateStack(config.peerStack, { projectDir: opts.projectDir });
    if (evaluation.outputs.role !== "dr")
      throw new Error(
        `peer stack "${config.peerStack}" of "${stack}" has role ${evaluation.outputs.role}; expected dr`,
      );
    peer = evaluation.outputs;
  }
  const run = queue.then(() => runMocked(stack, config, peer, opts.resources ?? [], opts.live ?? {}));
  queue = run.catch(() => undefined);
  return run;
}

async function runMocked(
  stack: string,
  config: StackConfig,
  peer: StackOutputs | undefined,
  resources: EvaluatedResource[],
  live: LiveState,
): Promise<Evaluation> {
  const providers = new Map<string, { name: string; region?: string }>();
  const registered = new Map<
    string,
    { parent: string; protect: boolean; ignoreChanges: string[]; recorded?: EvaluatedResource }
  >();
  const mocks: pulumi.runtime.Mocks = {
    newResource(args) {
      const providerId = args.provider ? args.provider.slice(args.provider.lastIndexOf("::") + 2) : undefined;
      const provider = providerId ? providers.get(providerId) : undefined;
      const region = provider?.region ?? (args.type.startsWith("pulumi:providers:") ? args.inputs.region : undefined);
      const secretInputs = Object.keys(args.inputs).filter((k) => isSecret(args.inputs[k]));
      const options = registered.get(`${args.type}::${args.name}`);
      const recorded: EvaluatedResource = {
        type: args.type,
        name: args.name,
        inputs: unwrapSecrets(args.inputs),
        secretInputs,
        custom: args.custom ?? true,
        region,
        provider: provider?.name,
        parent: options?.parent || undefined,
        protect: options?.protect ?? false,
        ignoreChanges: options?.ignoreChanges ?? [],
      };
      if (options) options.recorded = recorded;
      resources.push(recorded);
      if (args.type === "pulumi:pulumi:StackReference") {
        if (!peer) throw new Error(`stack ${stack} references ${args.inputs.name} but no peer outputs were given`);
        return { id: args.inputs.name, state: { name: args.inputs.name, outputs: peer, secretOutputNames: [] } };
      }
      const { id, state } = mockResourceState(args.type, args.name, args.inputs, region ?? config.region);
      if (recorded.custom) recorded.id = id;
      if (args.type.startsWith("pulumi:providers:")) providers.set(id, { name: args.name, region: args.inputs.region });
      return { id, state };
    },
    call(args) {
      if (args.token === "aws:index/getCallerIdentity:getCallerIdentity") {
        return {
          accountId: MOCK_ACCOUNT_ID,
          arn: `arn:aws:iam::${MOCK_ACCOUNT_ID}:user/mock`,
          userId: "AIDAMOCK",
          id: MOCK_ACCOUNT_ID,
        };
      }
      if (args.token === "aws:route53/getZone:getZone") {
        // The zone is not declared by the program; Route 53 delegates each zone to four name servers.
        return {
          zoneId: args.inputs.zoneId,
          id: args.inputs.zoneId,
          name: "mock-zone.",
          nameServers: MOCK_NAME_SERVERS,
        };
      }
      if (args.token === "aws:rds/getInstances:getInstances" || args.token === "aws:rds/getInstance:getInstance") {
        // As the engine reports a failed invoke: the provider's message in the gRPC error's details.
        if (live.rdsReadError) throw Object.assign(new Error(live.rdsReadError), { details: live.rdsReadError });
        return rdsRead(args.token, args.inputs, live.databases ?? [], config.region);
      }
      throw new Error(`the program made an unmocked call ${args.token}; add it to infra/offline/evaluate.ts`);
    },
  };
  await pulumi.runtime.setMocks(mocks, "eventchain-dr", stack, false, "organization");
  // The mocks see no resource options; read them (and the URNs) off the registration requests.
  const monitor = pulumi.runtime.getMonitor() as unknown as {
    registerResource: (req: RegisterRequest, cb: (err: unknown, res?: { getUrn(): string }) => void) => unknown;
  };
  const register = monitor.registerResource.bind(monitor);
  monitor.registerResource = (req, cb) => {
    const meta = {
      parent: req.getParent(),
      protect: Boolean(req.getProtect()),
      ignoreChanges: req.getIgnorechangesList(),
    } as { parent: string; protect: boolean; ignoreChanges: string[]; recorded?: EvaluatedResource };
    registered.set(`${req.getType()}::${req.getName()}`, meta);
    return register(req, (err, res) => {
      if (res && meta.recorded) meta.recorded.urn = res.getUrn();
      cb(err, res);
    });
  };
  const lifted = buildStack(config);
  // Output.promise() is internal but stable; unlike apply() it rejects when any part failed.
  const raw = await (pulumi.output(lifted) as unknown as { promise(): Promise<unknown> }).promise();
  const waitForRPCs = (pulumi.runtime as unknown as { waitForRPCs?: () => Promise<void> }).waitForRPCs;
  if (waitForRPCs) await waitForRPCs();
  return { stack, config, resources, outputs: parseStackOutputs(raw, `evaluateStack("${stack}")`) };
}

/** What `aws.rds.getInstances` (filter db-instance-id) and `aws.rds.getInstance` answer for `databases`. */
function rdsRead(token: string, inputs: Record<string, any>, databases: LiveDatabase[], region: string) {
  const arn = (id: string) => `arn:aws:rds:${region}:${MOCK_ACCOUNT_ID}:db:${id}`;
  if (token === "aws:rds/getInstances:getInstances") {
    const wanted = (inputs.filters ?? []).flatMap((f: { name: string; values: string[] }) =>
      f.name === "db-instance-id" ? f.values : [],
    );
    const found = databases.filter((d) => wanted.length === 0 || wanted.includes(d.identifier));
    return {
      id: region,
      region,
      filters: inputs.filters,
      instanceIdentifiers: found.map((d) => d.identifier),
      instanceArns: found.map((d) => arn(d.identifier)),
      tags: {},
    };
  }
  const d = databases.find((x) => x.identifier === inputs.dbInstanceIdentifier);
  // As the data source does for an instance that does not exist.
  if (!d) throw new Error(`couldn't find resource (DBInstanceNotFound: ${inputs.dbInstanceIdentifier})`);
  return {
    id: d.identifier,
    dbInstanceIdentifier: d.identifier,
    dbInstanceArn: arn(d.identifier),
    region,
    tags: d.tags,
    vpcSecurityGroups: d.securityGroupIds,
  };
}
