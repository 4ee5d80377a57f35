// Where the Temporal server is: TEMPORAL_ADDRESS (a cluster or Temporal Cloud), or else the embedded
// local dev server under the state directory, started on first use and kept running between commands.
import { Client, Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import path from 'node:path';
import { ensureDevServer } from '../workers/temporal-cli.js';

export interface TemporalTarget {
  address: string;
  namespace: string;
  embedded: boolean;
  uiUrl: string | null;
  apiKey?: string;
  tls: boolean;
}

export function stateDir(): string {
  return path.resolve(process.env.WCSE_HOME ?? '.wcse');
}

export async function resolveTarget(namespace?: string): Promise<TemporalTarget> {
  const apiKey = process.env.TEMPORAL_API_KEY;
  const tls = Boolean(apiKey) || process.env.TEMPORAL_TLS === 'true';
  const ns = process.env.TEMPORAL_NAMESPACE ?? namespace ?? 'default';
  if (process.env.TEMPORAL_ADDRESS) {
    return {
      address: process.env.TEMPORAL_ADDRESS,
      namespace: ns,
      embedded: false,
      uiUrl: null,
      apiKey,
      tls,
    };
  }
  const server = await ensureDevServer({ stateDir: path.join(stateDir(), 'temporal') });
  if (server.started) console.error(`Started the local Temporal dev server (Web UI: ${server.uiUrl})`);
  return { address: server.address, namespace: ns, embedded: true, uiUrl: server.uiUrl, tls: false };
}

export async function connectClient(
  target: TemporalTarget,
): Promise<{ client: Client; connection: Connection }> {
  const connection = await Connection.connect({
    address: target.address,
    tls: target.tls || undefined,
    apiKey: target.apiKey,
  });
  return { client: new Client({ connection, namespace: target.namespace }), connection };
}

export async function connectWorker(target: TemporalTarget): Promise<NativeConnection> {
  return NativeConnection.connect({
    address: target.address,
    tls: target.tls || undefined,
    apiKey: target.apiKey,
  });
}
