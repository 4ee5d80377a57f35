// Where the Temporal server is. Temporal's own client configuration decides (`@temporalio/envconfig`):
// TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_API_KEY, TEMPORAL_TLS* and TEMPORAL_GRPC_META_* variables
// over a profile (TEMPORAL_PROFILE, default "default") of the config file (TEMPORAL_CONFIG_FILE, default
// ~/.config/temporalio/temporal.toml). With no address from either, the embedded default: the local dev
// server under the state directory, started on first use and kept running between commands.
import { Client, Connection } from '@temporalio/client';
import { loadClientConnectConfig, type ClientConnectConfig } from '@temporalio/envconfig';
import { NativeConnection } from '@temporalio/worker';
import path from 'node:path';
import { ConfigError } from '../core/config.js';
import { ensureDevServer } from '../workers/temporal-cli.js';

export interface TemporalTarget {
  /** What `Connection.connect` and `NativeConnection.connect` take: address, TLS, API key, gRPC metadata. */
  connectionOptions: ClientConnectConfig['connectionOptions'] & { address: string };
  namespace: string;
  embedded: boolean;
  uiUrl: string | null;
}

export function stateDir(): string {
  return path.resolve(process.env.WCSE_HOME ?? '.wcse');
}

/** What Temporal's client configuration says (environment over profile); a bad profile is a ConfigError. */
export function configuredConnection(
  env: Record<string, string | undefined> = process.env,
): ClientConnectConfig {
  try {
    return loadClientConnectConfig({ overrideEnvVars: env as Record<string, string> });
  } catch (error) {
    throw new ConfigError(env.TEMPORAL_CONFIG_FILE ?? 'Temporal client config', [(error as Error).message]);
  }
}

/**
 * The configured server, or the embedded local dev server when no address is configured (an empty
 * TEMPORAL_ADDRESS forces it). `namespace` (an experiment config's `temporal.namespace`) applies when
 * neither the environment nor the profile names one.
 */
export async function resolveTarget(
  namespace?: string,
  env: Record<string, string | undefined> = process.env,
): Promise<TemporalTarget> {
  const configured = configuredConnection(env);
  const ns = configured.namespace || namespace || 'default';
  const { address } = configured.connectionOptions;
  if (address) {
    return {
      connectionOptions: { ...configured.connectionOptions, address },
      namespace: ns,
      embedded: false,
      uiUrl: null,
    };
  }
  const server = await ensureDevServer({ stateDir: path.join(stateDir(), 'temporal') });
  if (server.started) console.error(`Started the local Temporal dev server (Web UI: ${server.uiUrl})`);
  return {
    connectionOptions: { address: server.address },
    namespace: ns,
    embedded: true,
    uiUrl: server.uiUrl,
  };
}

export async function connectClient(
  target: TemporalTarget,
): Promise<{ client: Client; connection: Connection }> {
  const connection = await Connection.connect(target.connectionOptions);
  return { client: new Client({ connection, namespace: target.namespace }), connection };
}

export async function connectWorker(target: TemporalTarget): Promise<NativeConnection> {
  return NativeConnection.connect(target.connectionOptions);
}
