// Worker construction shared by `wcse worker`, the embedded `wcse run` and the tests.
import { NativeConnection, Worker, type WorkerOptions } from '@temporalio/worker';
import path from 'node:path';
import * as activities from '../activities/index.js';
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
}

export async function createWorker(options: CreateWorkerOptions): Promise<Worker> {
  return Worker.create({
    connection: options.connection,
    namespace: options.namespace,
    taskQueue: options.taskQueue,
    activities,
    ...(options.workflowBundlePath
      ? { workflowBundle: { codePath: options.workflowBundlePath } }
      : { workflowsPath: WORKFLOWS_PATH }),
    maxConcurrentActivityTaskExecutions: options.maxConcurrentActivities ?? 64,
    shutdownGraceTime: options.shutdownGraceTime ?? '10 seconds',
  });
}
