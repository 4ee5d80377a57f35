// `wcse run study.yaml` for a study config (a top-level `arms` list): starts the study workflow
// (workflows/study.ts), in the embedded default also runs a worker in this process until it closes; and
// `wcse status <studyId>` for a study. Cancel is `wcse cancel <studyId>` as for an experiment (the
// cancel reaches the study's pool and arm children, which stop their work).
import type { Client } from '@temporalio/client';
import { WorkflowExecutionAlreadyStartedError, WorkflowIdReusePolicy } from '@temporalio/client';
import path from 'node:path';
import { rootFailureType } from '../core/failures.js';
import { fnv1a64 } from '../core/hash.js';
import { WORKER_ROLES } from '../core/task-queues.js';
import { createRoleWorkers, runWorkersUntil } from '../workers/worker.js';
import {
  studyProgressQuery,
  studyWorkflow,
  type StudyInput,
  type StudyProgress,
} from '../workflows/study.js';
import { connectClient, connectWorker, resolveTarget } from './connect.js';
import { loadStudyFile } from './study-file.js';

/** The workflow type of a study, as `describe()` reports it. */
export const STUDY_WORKFLOW_TYPE = 'studyWorkflow';

/**
 * A study's id: its name and its directory. Stable when arms are added, so a second run of the grown
 * study is the same study (its pool directories are owned by this id) and computes only the new arms.
 */
export function studyIdFor(name: string, studyDir: string): string {
  return `study-${name}-${fnv1a64(studyDir).slice(0, 8)}`;
}

export async function studyRunCommand(
  configFile: string,
  options: { wait?: boolean; id?: string },
): Promise<number> {
  const { study, runDir } = await loadStudyFile(configFile);
  const input: StudyInput = {
    studyId: options.id ?? studyIdFor(study.name, runDir),
    studyDir: runDir,
    study,
  };
  const target = await resolveTarget(study.temporal.namespace);
  const { client, connection } = await connectClient(target);
  try {
    const started = await startStudy(client, input, study.temporal.taskQueue);
    console.log(input.studyId);
    console.error(
      started
        ? `Started study ${input.studyId} (study directory ${runDir})`
        : `Study ${input.studyId} is already running: following it`,
    );
    if (!target.embedded && !options.wait) return 0;
    const follow = () => outcome(client, input.studyId);
    if (!target.embedded) return await follow();
    // Embedded: this process is the worker, for every role's task queue, until the study closes.
    const workerConnection = await connectWorker(target);
    const workers = await createRoleWorkers({
      connection: workerConnection,
      namespace: target.namespace,
      temporal: study.temporal,
      roles: WORKER_ROLES,
    });
    const done = await runWorkersUntil(
      workers.map((w) => w.worker),
      () => follow(),
    );
    await workerConnection.close();
    if (done.done) return done.value;
    console.error(
      `Stopped: this process no longer runs a worker for study ${input.studyId}; it stays on the server ` +
        `(\`wcse status ${input.studyId}\`, \`wcse cancel ${input.studyId}\`; \`wcse run ${configFile}\` follows it again).`,
    );
    return 1;
  } finally {
    await connection.close();
  }
}

async function startStudy(client: Client, input: StudyInput, taskQueue: string): Promise<boolean> {
  try {
    await client.workflow.start(studyWorkflow, {
      taskQueue,
      workflowId: input.studyId,
      args: [input],
      // A closed study may run again: finished pools, datasets, jobs and arms are reused.
      workflowIdReusePolicy: WorkflowIdReusePolicy.ALLOW_DUPLICATE,
      memo: { runDir: input.studyDir },
    });
    return true;
  } catch (error) {
    if (error instanceof WorkflowExecutionAlreadyStartedError) return false;
    throw error;
  }
}

async function outcome(client: Client, id: string): Promise<number> {
  try {
    const result = await client.workflow.getHandle(id).result();
    const typed = result as Awaited<ReturnType<typeof studyWorkflow>>;
    console.error(
      `Study ${id} completed (${typed.arms.length} arms, ${typed.reused.length} found done). ` +
        `Report: ${path.join(typed.studyDir, typed.report.reportMd)}`,
    );
    return 0;
  } catch (error) {
    let cause: unknown = error;
    while (cause instanceof Error && (cause as { cause?: unknown }).cause) {
      cause = (cause as { cause?: unknown }).cause;
    }
    const type = rootFailureType(error);
    console.error(
      `Study ${id} failed: ${type ? `${type}: ` : ''}${cause instanceof Error ? cause.message : String(cause)}`,
    );
    console.error('Fix the cause and run it again: finished work is reused, nothing is paid twice.');
    return 1;
  }
}

/** Whether a workflow id names a study (its workflow type), for `wcse status`. */
export async function isStudyWorkflow(client: Client, id: string): Promise<boolean> {
  try {
    return (await client.workflow.getHandle(id).describe()).type === STUDY_WORKFLOW_TYPE;
  } catch {
    return false;
  }
}

/** `wcse status <studyId>`: the workflow's status and, while it answers queries, its progress. */
export async function studyStatus(client: Client, id: string, options: { json?: boolean }): Promise<number> {
  const handle = client.workflow.getHandle(id);
  const status = (await handle.describe()).status.name;
  let progress: StudyProgress | null = null;
  try {
    progress = await handle.query(studyProgressQuery);
  } catch {
    // A closed study whose worker is gone answers no query: its status is still shown.
  }
  if (options.json) {
    console.log(JSON.stringify({ id, status, progress }, null, 2));
    return 0;
  }
  console.log(formatStudyProgress(id, status, progress));
  return 0;
}

export function formatStudyProgress(id: string, status: string, progress: StudyProgress | null): string {
  if (!progress) return `study ${id}: ${status}`;
  const pools = Object.entries(progress.pools ?? {})
    .map(([name, counts]) => `${name} (WC ${counts.wc}, SE ${counts.se} per question)`)
    .join(', ');
  return [
    `study ${id}: ${status}, stage ${progress.stage} (study directory ${progress.studyDir})`,
    ...(pools ? [`  pools: ${pools}`] : []),
    `  arms done: ${progress.armsDone.length}/${progress.arms.length}` +
      (progress.armsReused.length ? ` (${progress.armsReused.length} found done)` : '') +
      (progress.currentArm ? `; running: ${progress.currentArm}` : ''),
  ].join('\n');
}
