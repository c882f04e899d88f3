/**
 * One factory for AWS SDK v3 clients, whatever the service.
 *
 * - Credentials: the SDK's default provider chain only (environment, SSO, instance/task
 *   role, web identity). Our code never reads or passes keys.
 * - Endpoint: the SDK honours `AWS_ENDPOINT_URL` (and `AWS_ENDPOINT_URL_<SERVICE>`) itself;
 *   `endpoint` here is for in-process tests against a local emulator.
 * - Retries: the SDK's standard retry mode; `maxAttempts` lowers it for tests (1 against moto).
 */
import type { ClientCtor } from "./types.ts";

export interface AwsSettings {
  /** Overrides every client's endpoint (tests); otherwise AWS_ENDPOINT_URL or AWS's own. */
  endpoint?: string;
  /** Attempts per call including the first; default the SDK's (3). */
  maxAttempts?: number;
}

export interface ClientFactory {
  get<C>(ctor: ClientCtor<C>, region: string): C;
  /** Closes every client made (sockets); call once at the end of a run. */
  destroy(): void;
}

export function createClientFactory(settings: AwsSettings = {}): ClientFactory {
  const cache = new Map<ClientCtor<unknown>, Map<string, unknown>>();
  return {
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
          ...(settings.maxAttempts ? { maxAttempts: settings.maxAttempts } : {}),
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
