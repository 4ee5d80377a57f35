// `wcse worker`: a long-running worker for a cluster (or the local dev server).
import { createWorker } from '../workers/worker.js';
import { connectWorker, resolveTarget } from './connect.js';

export async function workerCommand(options: {
  taskQueue: string;
  namespace: string;
  maxActivities: number;
}): Promise<number> {
  const target = await resolveTarget(options.namespace);
  const connection = await connectWorker(target);
  const worker = await createWorker({
    connection,
    namespace: target.namespace,
    taskQueue: options.taskQueue,
    maxConcurrentActivities: options.maxActivities,
  });
  console.error(
    `wcse worker on ${target.connectionOptions.address}, namespace ${target.namespace}, task queue ${options.taskQueue}`,
  );
  // SIGINT/SIGTERM shut the worker down gracefully (in-flight activities get the grace time).
  await worker.run();
  await connection.close();
  return 0;
}
