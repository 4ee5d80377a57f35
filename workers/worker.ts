// Worker construction shared by `wcse worker`, the embedded `wcse run` and the tests.
import { NativeConnection, Worker, type WorkerOptions } from '@temporalio/worker';
import path from 'node:path';
import * as activities from '../activities/index.js';
import { queuesForRoles, type RoleSpec, type TemporalConfig } from '../core/task-queues.js';
import { PROJECT_ROOT } from './temporal-cli.js';

export const WORKFLOWS_PATH = path.join(PROJECT_ROOT, 'workflows', 'index.ts');

export interface CreateWorkerOptions {
  connection: NativeConnection;
  namespace: string;
  taskQueue: string;
  /** A pre-built workflow bundle (tests build one once); otherwise workflows/ is bundled now. */
  workflowBundlePath?: string;
  /** Parallel activities per worker; request concurrency per endpoint is limited separately. */
  maxConcurrentActivities?: number;
  /** How long in-flight activities may finish on shutdown before they are abandoned to a retry. */
  shutdownGraceTime?: WorkerOptions['shutdownGraceTime'];
  /** Poll workflow tasks (default true). */
  workflows?: boolean;
  /** Poll activity tasks (default true). */
  activities?: boolean;
}

export async function createWorker(options: CreateWorkerOptions): Promise<Worker> {
  const withWorkflows = options.workflows ?? true;
  const withActivities = options.activities ?? true;
  return Worker.create({
    connection: options.connection,
    namespace: options.namespace,
    taskQueue: options.taskQueue,
    ...(withActivities ? { activities } : {}),
    ...(!withWorkflows
      ? {}
      : options.workflowBundlePath
        ? { workflowBundle: { codePath: options.workflowBundlePath } }
        : { workflowsPath: WORKFLOWS_PATH }),
    maxConcurrentActivityTaskExecutions: options.maxConcurrentActivities ?? 64,
    shutdownGraceTime: options.shutdownGraceTime ?? '10 seconds',
  });
}

/**
 * One worker per task queue that `roles` use (core/task-queues.ts), in this process: polling workflow
 * tasks only where the `workflow` role is given, activity tasks only where another role is.
 */
export async function createRoleWorkers(
  options: Omit<CreateWorkerOptions, 'taskQueue' | 'workflows' | 'activities'> & {
    temporal: TemporalConfig;
    roles: readonly RoleSpec[];
  },
): Promise<{ taskQueue: string; workflows: boolean; activities: boolean; worker: Worker }[]> {
  const { temporal, roles, ...common } = options;
  const workers = [];
  for (const queue of queuesForRoles(temporal, roles)) {
    workers.push({ ...queue, worker: await createWorker({ ...common, ...queue }) });
  }
  return workers;
}

/**
 * Runs `workers` until one of them stops (a shutdown signal stops them all: the SDK shuts every worker
 * down), then stops the others.
 */
export async function runWorkers(workers: readonly Worker[]): Promise<void> {
  await runWorkersUntil(workers, () => new Promise<never>(() => {}));
}

/**
 * Runs `workers` while `work` runs: when it settles they shut down (its result or error is returned), and
 * when a worker stops first (SIGINT/SIGTERM, or a fatal error) `abort` is signalled, the others stop and
 * 'workers stopped' is returned without waiting for `work` (which should end on `abort`).
 */
export async function runWorkersUntil<T>(
  workers: readonly Worker[],
  work: (abort: AbortSignal) => Promise<T>,
): Promise<{ done: true; value: T } | { done: false; reason: 'workers stopped' }> {
  const controller = new AbortController();
  const runs = workers.map((worker) => worker.run());
  const stopped = Promise.race(runs.map((run) => run.then(noop, noop))).then(() => ({
    done: false as const,
    reason: 'workers stopped' as const,
  }));
  const inner = work(controller.signal);
  // Once the workers have stopped nobody awaits `work`: its error must not become an unhandled rejection.
  inner.catch(noop);
  let outcome: { done: true; value: T } | { done: false; reason: 'workers stopped' } | { error: unknown };
  try {
    outcome = await Promise.race([inner.then((value) => ({ done: true as const, value })), stopped]);
  } catch (error) {
    outcome = { error };
  }
  controller.abort(new Error('the worker stopped'));
  for (const worker of workers) if (worker.getState() === 'RUNNING') worker.shutdown();
  const failed = (await Promise.allSettled(runs)).find((r) => r.status === 'rejected');
  if ('error' in outcome) throw outcome.error;
  if (failed) throw failed.reason;
  return outcome;
}

function noop(): void {}
