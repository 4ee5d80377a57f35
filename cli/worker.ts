// `wcse worker`: a long-running worker for a cluster (or the local dev server). With `--roles`, it polls
// only the task queues those roles use in the config given with `--config` (core/task-queues.ts).
import { ExperimentConfigSchema } from '../core/config.js';
import { parseRoles, type TemporalConfig } from '../core/task-queues.js';
import { createRoleWorkers, runWorkers } from '../workers/worker.js';
import { loadConfigFile } from './config-file.js';
import { connectWorker, resolveTarget } from './connect.js';

export async function workerCommand(options: {
  taskQueue?: string;
  namespace?: string;
  maxActivities: number;
  roles?: string;
  config?: string;
}): Promise<number> {
  const roles = parseRoles(options.roles);
  if (typeof roles === 'string') {
    console.error(`error: ${roles}`);
    return 2;
  }
  const temporal: TemporalConfig = options.config
    ? (await loadConfigFile(options.config)).config.temporal
    : ExperimentConfigSchema.shape.temporal.parse({});
  if (options.taskQueue !== undefined) temporal.taskQueue = options.taskQueue;
  if (options.roles !== undefined && !options.config) {
    console.error(
      'warning: --roles without --config: every role is on the one task queue, so this worker polls all of them',
    );
  }
  const target = await resolveTarget(options.namespace ?? temporal.namespace);
  const connection = await connectWorker(target);
  const workers = await createRoleWorkers({
    connection,
    namespace: target.namespace,
    temporal,
    roles,
    maxConcurrentActivities: options.maxActivities,
  });
  console.error(
    `wcse worker on ${target.connectionOptions.address}, namespace ${target.namespace}, roles ${roles.join(',')}`,
  );
  for (const { taskQueue, workflows, activities } of workers) {
    const polls = [workflows ? 'workflow tasks' : null, activities ? 'activity tasks' : null].filter(Boolean);
    console.error(`  task queue ${taskQueue}: ${polls.join(' and ')}`);
  }
  // SIGINT/SIGTERM shut the workers down gracefully (in-flight activities get the grace time).
  await runWorkers(workers.map((w) => w.worker));
  await connection.close();
  return 0;
}
