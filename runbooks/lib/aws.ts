/**
 * One factory for AWS SDK v3 clients, whatever the service, and the retry layer every step's
 * calls go through.
 *
 * - Credentials: the SDK's default provider chain only (environment, SSO, instance/task
 *   role, web identity). Our code never reads or passes keys.
 * - Endpoint: the SDK honours `AWS_ENDPOINT_URL` (and `AWS_ENDPOINT_URL_<SERVICE>`) itself;
 *   `endpoint` here is for in-process tests against a local emulator.
 * - Retries: the SDK's own retries are off (`maxAttempts: 1` on every client); `retrying()`
 *   wraps a client so each `send` retries throttling, 5xx, resets and hangs within the step's
 *   `RetryBudget` (retry.ts). `maxAttempts` (or `AWS_MAX_ATTEMPTS`) sets the attempts per call.
 */
import { DEFAULT_RETRY, RetryBudget, type CallOptions, type RetryPolicy } from "./retry.ts";
import type { ClientCtor } from "./types.ts";

export interface AwsSettings {
  /** Overrides every client's endpoint (tests); otherwise AWS_ENDPOINT_URL or AWS's own. */
  endpoint?: string;
  /** Attempts per call including the first; default `AWS_MAX_ATTEMPTS`, else 8 (1 = no retry). */
  maxAttempts?: number;
  /** The rest of the retry policy (tests shorten the backoff). */
  retry?: Partial<Omit<RetryPolicy, "maxAttempts">>;
}

export interface ClientFactory {
  get<C>(ctor: ClientCtor<C>, region: string): C;
  /** The retry policy of the calls made through these clients; absent = one attempt per call (the factory's owner retries). */
  readonly retry?: RetryPolicy;
  /** Closes every client made (sockets); call once at the end of a run. */
  destroy(): void;
}

/** The policy of a factory that states none: a single attempt per call. */
export const policyOf = (clients: Pick<ClientFactory, "retry">): RetryPolicy =>
  clients.retry ?? { ...DEFAULT_RETRY, maxAttempts: 1 };

/** The retry policy from the settings and the environment. */
export function retryPolicyOf(settings: AwsSettings = {}, env: NodeJS.ProcessEnv = process.env): RetryPolicy {
  const fromEnv = Number(env.AWS_MAX_ATTEMPTS);
  const maxAttempts =
    settings.maxAttempts ?? (Number.isInteger(fromEnv) && fromEnv >= 1 ? fromEnv : DEFAULT_RETRY.maxAttempts);
  return { ...DEFAULT_RETRY, ...settings.retry, maxAttempts };
}

export function createClientFactory(settings: AwsSettings = {}): ClientFactory {
  const cache = new Map<ClientCtor<unknown>, Map<string, unknown>>();
  return {
    retry: retryPolicyOf(settings),
    get<C>(ctor: ClientCtor<C>, region: string): C {
      if (!/^[a-z]{2}(-[a-z]+)+-\d$/.test(region))
        throw new Error(`invalid AWS region "${region}": expected e.g. us-east-1`);
      let byRegion = cache.get(ctor as ClientCtor<unknown>);
      if (!byRegion) cache.set(ctor as ClientCtor<unknown>, (byRegion = new Map()));
      let client = byRegion.get(region) as C | undefined;
      if (!client) {
        client = new ctor({
          region,
          ...(settings.endpoint ? { endpoint: settings.endpoint } : {}),
          maxAttempts: 1,
        });
        byRegion.set(region, client);
      }
      return client;
    },
    destroy() {
      for (const byRegion of cache.values()) {
        for (const client of byRegion.values()) (client as { destroy?: () => void }).destroy?.();
      }
      cache.clear();
    },
  };
}

interface Sendable {
  send(command: unknown, options?: { abortSignal?: AbortSignal }): Promise<unknown>;
  config?: { serviceId?: string; region?: unknown };
}

const RETRYING = Symbol("retrying");
interface RetryingHandle {
  client: Sendable;
  budget: RetryBudget;
  region: string;
}

/** `service:Operation (region)` of a command sent by `client`, e.g. `rds:RestoreDBInstanceFromDBSnapshot (us-west-2)`. */
export function callLabel(client: Sendable, command: unknown, region: string): string {
  const service = (client.config?.serviceId ?? client.constructor?.name?.replace(/Client$/, "") ?? "aws")
    .toLowerCase()
    .replace(/\s+/g, "");
  const op = ((command as object).constructor?.name ?? "Call").replace(/Command$/, "");
  return `${service}:${op} (${region})`;
}

/** An upload (a backup's parts) moves at the link's pace: no per-attempt timeout for a call with a body. */
const hasBody = (command: unknown) => (command as { input?: { Body?: unknown } }).input?.Body !== undefined;

/** `client` with each `send` retried within `budget` (see retry.ts). Other members are the client's own. */
export function retrying<C>(client: C, region: string, budget: RetryBudget): C {
  const raw = client as unknown as Sendable;
  const handle: RetryingHandle = { client: raw, budget, region };
  return new Proxy(raw, {
    get(target, prop, receiver) {
      if (prop === RETRYING) return handle;
      if (prop === "send") {
        return (command: unknown, options?: { abortSignal?: AbortSignal }) =>
          budget.call(
            callLabel(raw, command, region),
            (signal) =>
              raw.send(command, {
                ...options,
                abortSignal: options?.abortSignal ? AbortSignal.any([options.abortSignal, signal]) : signal,
              }),
            {
              alreadyExistsMeansDone: (error) => ({ $metadata: (error as { $metadata?: unknown }).$metadata ?? {} }),
              noTimeout: hasBody(command),
            },
          );
      }
      return Reflect.get(target, prop, receiver);
    },
  }) as unknown as C;
}

/**
 * Sends a command that changes something exactly once, even across retries: after an ambiguous
 * failure (5xx, reset, timeout) `alreadyApplied` is asked before re-sending, and when the change
 * is in place its answer stands for the lost one. On a client not wrapped by `retrying`, a plain send.
 */
export async function sendIdempotent<Out>(
  client: { send(command: never): Promise<Out> },
  command: unknown,
  alreadyApplied: () => Promise<Out | undefined>,
): Promise<Out> {
  const handle = (client as unknown as { [RETRYING]?: RetryingHandle })[RETRYING];
  if (!handle) return (client as unknown as Sendable).send(command) as Promise<Out>;
  const opts: CallOptions<Out> = { alreadyDone: alreadyApplied };
  return handle.budget.call(
    callLabel(handle.client, command, handle.region),
    (signal) => handle.client.send(command, { abortSignal: signal }) as Promise<Out>,
    opts,
  );
}
