// `wcse status|watch|history|cancel|pause|raise-budget`: thin wrappers over workflow queries and signals.
import { connectClient, resolveTarget } from './connect.js';
import { renderHistory } from './history.js';
import { formatSnapshot, readProgress, watchExperiment } from './progress.js';
import { childWorkflowIds, pauseSignal, raiseBudgetUpdate, type RaiseBudget } from '../workflows/messages.js';
import { WorkflowNotFoundError, WorkflowUpdateFailedError, type Client } from '@temporalio/client';
import type { Source } from '../core/config.js';
import { rootFailureType } from '../core/failures.js';
import { readExperimentInput, rootCause, untilStopSignal, workerPolling } from './run.js';
import { experimentTaskQueues, type RoleSpec } from '../core/task-queues.js';
import { isStudyWorkflow, studyStatus } from './study-run.js';

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
    if (await isStudyWorkflow(client, id)) return studyStatus(client, id, options);
    const snapshot = await readProgress(client, id);
    const failed = snapshot.status === 'FAILED' ? await failureOf(client, id) : null;
    const retrying = snapshot.status === 'RUNNING' ? await retryingActivities(client, id) : [];
    const unpolled = snapshot.status === 'RUNNING' ? await queuesWithoutPoller(client, id) : [];
    if (options.json) {
      console.log(
        JSON.stringify(
          { ...snapshot, ...(failed ? { failure: failed } : {}), retrying, queuesWithoutPoller: unpolled },
          null,
          2,
        ),
      );
    } else {
      console.log(formatSnapshot(id, snapshot));
      if (failed) console.log(`  failed: ${failed.type ?? 'error'}: ${failed.message}`);
      for (const q of unpolled) {
        console.log(
          `  no worker polls task queue ${q.taskQueue} for ${q.kind} tasks (roles ${q.roles.join(', ')}): ` +
            `start one with \`wcse worker --config <config> --roles ${q.roles.join(',')}\``,
        );
      }
      for (const r of retrying) {
        console.log(
          `  retrying: ${r.workflowId} ${r.activity} (attempt ${r.attempt}): ${r.type ?? 'error'}: ${r.message}`,
        );
      }
    }
    return 0;
  });
}

/** A task queue of the experiment that no worker has polled lately, for its kind of tasks. */
export interface UnpolledQueue {
  taskQueue: string;
  kind: 'workflow' | 'activity';
  roles: RoleSpec[];
}

/**
 * The task queues of a running experiment (its config's `temporal.taskQueues`, core/task-queues.ts, on the
 * queue it was started on) that no worker polls now: their work waits until one does.
 */
export async function queuesWithoutPoller(client: Client, id: string): Promise<UnpolledQueue[]> {
  const { input, taskQueue } = await readExperimentInput(client, id);
  const temporal = { ...input.config.temporal, taskQueue };
  const found: UnpolledQueue[] = [];
  for (const [queue, roles] of experimentTaskQueues(temporal)) {
    const activityRoles = roles.filter((role) => role !== 'workflow');
    const kinds: UnpolledQueue[] = [
      ...(roles.includes('workflow')
        ? [{ taskQueue: queue, kind: 'workflow' as const, roles: ['workflow' as const] }]
        : []),
      ...(activityRoles.length
        ? [{ taskQueue: queue, kind: 'activity' as const, roles: activityRoles }]
        : []),
    ];
    for (const entry of kinds) {
      if (!(await workerPolling(client, client.options.namespace, queue, entry.kind))) found.push(entry);
    }
  }
  return found;
}

/** An activity being retried, with its last failure (already redacted and cut by the activity). */
export interface RetryingActivity {
  workflowId: string;
  activity: string;
  attempt: number;
  type: string | null;
  message: string;
}

/** The activities of an experiment and its child workflows that failed at least once and are retried. */
export async function retryingActivities(client: Client, id: string): Promise<RetryingActivity[]> {
  const description = await client.workflow.getHandle(id).describe();
  const children = childWorkflowIds(id, description.runId);
  const found: RetryingActivity[] = [];
  for (const workflowId of [id, ...children]) {
    let pending;
    try {
      pending = (await client.workflow.getHandle(workflowId).describe()).raw.pendingActivities ?? [];
    } catch (error) {
      if (error instanceof WorkflowNotFoundError) continue;
      throw error;
    }
    for (const activity of pending) {
      if (!activity.lastFailure) continue;
      found.push({
        workflowId,
        activity: activity.activityType?.name ?? 'activity',
        attempt: activity.attempt ?? 0,
        type: activity.lastFailure.applicationFailureInfo?.type ?? null,
        message: activity.lastFailure.message ?? '',
      });
    }
  }
  return found;
}

/** Why a failed experiment failed: the innermost failure's type (core/failures.ts) and message. */
async function failureOf(client: Client, id: string): Promise<{ type: string | null; message: string }> {
  try {
    await client.workflow.getHandle(id).result();
    return { type: null, message: 'no failure recorded' };
  } catch (error) {
    return { type: rootFailureType(error), message: rootCause(error) };
  }
}

export function watchCommand(id: string): Promise<number> {
  return withClient(async (client) => {
    const watched = await untilStopSignal((stop) => watchExperiment(client, id, 1000, stop));
    if (watched.stopped) return 1;
    console.log(formatSnapshot(id, await readProgress(client, id)));
    return watched.value === 'COMPLETED' ? 0 : 1;
  });
}

export function historyCommand(id: string): Promise<number> {
  return withClient(async (client) => {
    console.log(await renderHistory(client, id));
    return 0;
  });
}

/** What `cancelExperiment` saw: whether every run was closed in time, and the runs still open. */
export interface CancelOutcome {
  /** The experiment and all its child workflows are closed: nothing more is being requested. */
  closed: boolean;
  /** Workflow ids still running when the wait ran out. */
  stillRunning: string[];
  /** The experiment was already closed before the cancel. */
  alreadyClosed: boolean;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function isRunning(client: Client, workflowId: string): Promise<boolean> {
  try {
    return (await client.workflow.getHandle(workflowId).describe()).status.name === 'RUNNING';
  } catch (error) {
    if (error instanceof WorkflowNotFoundError) return false;
    throw error;
  }
}

/**
 * Cancels an experiment and waits (at most `waitMs`) until it and every child workflow of its current run
 * are closed. The children's ids are derived from the run's id, so this needs no worker. A child that is
 * still running once the experiment has had `graceMs` to pass the cancel on (a run started before the
 * workflows forwarded cancels to a child's latest continue-as-new run) is cancelled directly: a handle
 * without a run id reaches the latest run of a continue-as-new chain.
 */
export async function cancelExperiment(
  client: Client,
  id: string,
  options: { waitMs: number; graceMs?: number; pollMs?: number },
): Promise<CancelOutcome> {
  const handle = client.workflow.getHandle(id);
  const description = await handle.describe();
  if (description.status.name !== 'RUNNING') {
    return { closed: true, stillRunning: [], alreadyClosed: true };
  }
  const children = childWorkflowIds(id, description.runId);
  await handle.cancel();
  const started = Date.now();
  const graceMs = options.graceMs ?? 5_000;
  const pollMs = options.pollMs ?? 250;
  const cancelledDirectly = new Set<string>();
  for (;;) {
    const running: string[] = [];
    for (const workflowId of [id, ...children]) {
      if (await isRunning(client, workflowId)) running.push(workflowId);
    }
    if (running.length === 0) return { closed: true, stillRunning: [], alreadyClosed: false };
    const elapsed = Date.now() - started;
    if (elapsed >= options.waitMs) return { closed: false, stillRunning: running, alreadyClosed: false };
    if (elapsed >= graceMs) {
      for (const workflowId of running.filter((w) => w !== id && !cancelledDirectly.has(w))) {
        cancelledDirectly.add(workflowId);
        await client.workflow
          .getHandle(workflowId)
          .cancel()
          .catch((error: unknown) => {
            if (!(error instanceof WorkflowNotFoundError)) throw error;
          });
      }
    }
    await sleep(pollMs);
  }
}

export function cancelCommand(id: string, options: { waitSeconds?: number } = {}): Promise<number> {
  return withClient(async (client) => {
    const waitMs = (options.waitSeconds ?? 120) * 1000;
    console.error(`Cancelling ${id}: waiting until no request is in flight...`);
    const outcome = await cancelExperiment(client, id, { waitMs });
    if (outcome.alreadyClosed) {
      console.error(`${id} is not running: nothing to cancel.`);
      return 0;
    }
    if (!outcome.closed) {
      console.error(
        `Cancel requested for ${id}, but after ${waitMs / 1000} s these are still running: ` +
          `${outcome.stillRunning.join(', ')}. Is a worker running? \`wcse status ${id}\` shows them.`,
      );
      return 1;
    }
    console.error(
      `Cancelled ${id}: nothing more is being requested; \`wcse resume ${id}\` continues it later.`,
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

/**
 * `--source` is one of SOURCES and `--flops`/`--usd` are positive, finite numbers: commander checked both.
 * The workflow's update validator refuses a raise that could not take effect (ratio mode, the wrong unit,
 * sampling already over), so "Raised" is printed only for a raise the run will spend.
 */
export function raiseBudgetCommand(
  id: string,
  options: { source?: Source; flops?: number; usd?: number },
): Promise<number> {
  const raise: RaiseBudget = {
    ...(options.source ? { source: options.source } : {}),
    ...(options.flops !== undefined ? { flops: options.flops } : {}),
    ...(options.usd !== undefined ? { usd: options.usd } : {}),
  };
  if (raise.flops === undefined && raise.usd === undefined) {
    console.error('error: raise-budget: give --flops (flops mode) or --usd (price mode)');
    return Promise.resolve(2);
  }
  return withClient(async (client) => {
    try {
      await client.workflow.getHandle(id).executeUpdate(raiseBudgetUpdate, { args: [raise] });
    } catch (error) {
      if (!(error instanceof WorkflowUpdateFailedError)) throw error;
      // The validator's reason: nothing was raised.
      console.error(`error: raise-budget ${id}: ${error.cause?.message ?? error.message}`);
      return 2;
    }
    console.error(`Raised the budget of ${id}: ${JSON.stringify(raise)}`);
    return 0;
  });
}
