// A worker in its own process, so a test can kill it with SIGKILL mid-activity (a real crash, not a
// graceful shutdown). Reads its settings from the environment; prints "ready" when polling.
import { DefaultLogger, NativeConnection, Runtime } from '@temporalio/worker';
import { createWorker } from '../../workers/worker.js';

Runtime.install({ logger: new DefaultLogger('ERROR') });
const connection = await NativeConnection.connect({ address: process.env.WCSE_TEST_TEMPORAL_ADDRESS! });
const worker = await createWorker({
  connection,
  namespace: 'default',
  taskQueue: process.env.WCSE_TEST_TASK_QUEUE!,
  workflowBundlePath: process.env.WCSE_TEST_WORKFLOW_BUNDLE!,
});
await worker.runUntil(async () => {
  console.log('ready');
  await new Promise(() => {});
});
