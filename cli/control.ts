// `wcse status|watch|history|cancel|pause|raise-budget`: thin wrappers over workflow queries and signals.
import { connectClient, resolveTarget } from './connect.js';
import { renderHistory } from './history.js';
import { formatSnapshot, readProgress, watchExperiment } from './progress.js';
import { pauseSignal, raiseBudgetSignal } from '../workflows/messages.js';
import type { Client } from '@temporalio/client';
import type { Source } from '../core/config.js';

async function withClient<T>(use: (client: Client) => Promise<T>): Promise<T> {
  const { client, connection } = await connectClient(await resolveTarget());
  try {
    return await use(client);
  } finally {
    await connection.close();
  }
}

export function statusCommand(id: string, options: { json?: boolean }): Promise<number> {
  return withClient(async (client) => {
    const snapshot = await readProgress(client, id);
    console.log(options.json ? JSON.stringify(snapshot, null, 2) : formatSnapshot(id, snapshot));
    return 0;
  });
}

export function watchCommand(id: string): Promise<number> {
  return withClient(async (client) => {
    const status = await watchExperiment(client, id);
    console.log(formatSnapshot(id, await readProgress(client, id)));
    return status === 'COMPLETED' ? 0 : 1;
  });
}

export function historyCommand(id: string): Promise<number> {
  return withClient(async (client) => {
    console.log(await renderHistory(client, id));
    return 0;
  });
}

export function cancelCommand(id: string): Promise<number> {
  return withClient(async (client) => {
    await client.workflow.getHandle(id).cancel();
    console.error(
      `Cancel requested for ${id}: in-flight work stops; \`wcse resume ${id}\` continues it later.`,
    );
    return 0;
  });
}

export function pauseCommand(id: string): Promise<number> {
  return withClient(async (client) => {
    await client.workflow.getHandle(id).signal(pauseSignal);
    console.error(`Paused ${id} (in-flight batches finish); \`wcse resume ${id}\` continues.`);
    return 0;
  });
}

/** `--source` is one of SOURCES and `--flops`/`--usd` are positive numbers: commander checked both. */
export function raiseBudgetCommand(
  id: string,
  options: { source?: Source; flops?: number; usd?: number },
): Promise<number> {
  return withClient(async (client) => {
    const raise = { source: options.source, flops: options.flops, usd: options.usd };
    await client.workflow.getHandle(id).signal(raiseBudgetSignal, raise);
    console.error(`Raised the budget of ${id}: ${JSON.stringify(raise)}`);
    return 0;
  });
}
