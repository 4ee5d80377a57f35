// `wcse run` and `wcse resume`: start (or re-start from its artifacts) an experiment, and in the
// embedded default also run a worker in this process until the experiment closes.
import type { Client } from '@temporalio/client';
import { WorkflowExecutionAlreadyStartedError, WorkflowIdReusePolicy } from '@temporalio/client';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fnv1a64 } from '../core/hash.js';
import { EXPERIMENT_KEY, VERDICTS_DIR } from '../core/layout.js';
import { experimentWorkflow, type ExperimentInput } from '../workflows/experiment.js';
import { reverifyWorkflow } from '../workflows/reverify.js';
import { answerFormatOf } from '../core/config.js';
import { createWorker } from '../workers/worker.js';
import { loadConfigFile } from './config-file.js';
import { connectClient, connectWorker, resolveTarget, type TemporalTarget } from './connect.js';
import { watchExperiment } from './progress.js';

export function experimentIdFor(input: Omit<ExperimentInput, 'experimentId'>): string {
  return `${input.config.name}-${fnv1a64(JSON.stringify(input.config)).slice(0, 8)}`;
}

export interface RunOptions {
  wait?: boolean;
  id?: string;
}

export async function runCommand(configFile: string, options: RunOptions): Promise<number> {
  const loaded = await loadConfigFile(configFile);
  const base = { runDir: loaded.runDir, config: loaded.config };
  const input: ExperimentInput = { ...base, experimentId: options.id ?? experimentIdFor(base) };
  await mkdir(input.runDir, { recursive: true });
  await writeFile(path.join(input.runDir, EXPERIMENT_KEY), JSON.stringify(input, null, 2) + '\n');
  const target = await resolveTarget(loaded.config.temporal.namespace);
  return startAndFollow(target, input, loaded.config.temporal.taskQueue, options.wait ?? false);
}

/** Starts the experiment unless it is already running, then follows it when asked to (always when embedded). */
export async function startAndFollow(
  target: TemporalTarget,
  input: ExperimentInput,
  taskQueue: string,
  wait: boolean,
): Promise<number> {
  const { client, connection } = await connectClient(target);
  try {
    const started = await startExperiment(client, input, taskQueue);
    console.log(input.experimentId);
    console.error(
      started
        ? `Started experiment ${input.experimentId} (run directory ${input.runDir})`
        : `Experiment ${input.experimentId} is already running: following it`,
    );
    if (target.uiUrl)
      console.error(`Temporal Web UI: ${target.uiUrl}/namespaces/${target.namespace}/workflows`);
    if (!target.embedded && !wait) return 0;
    const follow = async () => {
      const status = await watchExperiment(client, input.experimentId);
      return reportOutcome(client, input.experimentId, status);
    };
    if (!target.embedded) return await follow();
    // Embedded: this process is the worker; it stops when the experiment closes.
    const workerConnection = await connectWorker(target);
    const worker = await createWorker({
      connection: workerConnection,
      namespace: target.namespace,
      taskQueue,
    });
    let outcome = 1;
    await worker.runUntil(async () => {
      outcome = await follow();
    });
    await workerConnection.close();
    return outcome;
  } finally {
    await connection.close();
  }
}

async function startExperiment(client: Client, input: ExperimentInput, taskQueue: string): Promise<boolean> {
  try {
    await client.workflow.start(experimentWorkflow, {
      taskQueue,
      workflowId: input.experimentId,
      args: [input],
      // A finished, failed or cancelled experiment may run again: it resumes from its artifacts.
      workflowIdReusePolicy: WorkflowIdReusePolicy.ALLOW_DUPLICATE,
      memo: { runDir: input.runDir },
    });
    return true;
  } catch (error) {
    if (error instanceof WorkflowExecutionAlreadyStartedError) return false;
    throw error;
  }
}

async function reportOutcome(client: Client, id: string, status: string): Promise<number> {
  const handle = client.workflow.getHandle(id);
  if (status === 'COMPLETED') {
    const result = (await handle.result()) as Awaited<ReturnType<typeof experimentWorkflow>>;
    console.error(`Experiment ${id} completed. Run directory: ${result.runDir}`);
    if (result.report) {
      console.error(
        `Report: ${path.join(result.runDir, result.report.reportMd)}\n\n${result.report.headline}\n`,
      );
    }
    for (const source of ['wc', 'se'] as const) {
      const sampling = result.sampling[source];
      const verify = result.verify[source];
      console.error(
        `  ${source}: ${sampling.samplesPerQuestion} samples/question, ${verify.correct}/${verify.samples} correct, ` +
          `${result.datasets[source].train.examples} training examples, ${sampling.ledger.flops.toExponential(3)} FLOPs`,
      );
    }
    return 0;
  }
  try {
    await handle.result();
  } catch (error) {
    console.error(`Experiment ${id} ${status.toLowerCase()}: ${rootCause(error)}`);
    console.error(
      `Fix the cause and run \`wcse resume ${id}\`: finished work is reused, nothing is paid twice.`,
    );
  }
  return 1;
}

export function rootCause(error: unknown): string {
  let current: unknown = error;
  while (current instanceof Error && (current as { cause?: unknown }).cause)
    current = (current as { cause?: unknown }).cause;
  return current instanceof Error ? current.message : String(current);
}

/** The input an experiment was started with, read back from its history (the workflow input is authoritative). */
export async function readExperimentInput(
  client: Client,
  id: string,
): Promise<{ input: ExperimentInput; taskQueue: string; status: string }> {
  const handle = client.workflow.getHandle(id);
  const description = await handle.describe();
  const history = await handle.fetchHistory();
  const started = history.events?.[0]?.workflowExecutionStartedEventAttributes;
  const payload = started?.input?.payloads?.[0];
  if (!payload) throw new Error(`cannot read the input of experiment ${id} from its history`);
  return {
    input: client.options.loadedDataConverter.payloadConverter.fromPayload(payload) as ExperimentInput,
    taskQueue: started!.taskQueue!.name!,
    status: description.status.name,
  };
}

/** `wcse resume <id>`: un-pause a running experiment, or run a closed one again from its artifacts. */
export async function resumeCommand(id: string, options: { wait?: boolean }): Promise<number> {
  const target = await resolveTarget();
  const { client, connection } = await connectClient(target);
  let experiment: Awaited<ReturnType<typeof readExperimentInput>>;
  try {
    experiment = await readExperimentInput(client, id);
    if (experiment.status === 'RUNNING') {
      await client.workflow.getHandle(id).signal('resume');
      console.error(`Experiment ${id} is running; sent resume (un-pause).`);
      return 0;
    }
  } finally {
    await connection.close();
  }
  console.error(`Resuming ${id} from ${experiment.input.runDir}`);
  return startAndFollow(target, experiment.input, experiment.taskQueue, options.wait ?? false);
}

/** `wcse verify <id>`: grade an experiment's stored samples again with this verifier; nothing is resampled. */
export async function verifyCommand(id: string): Promise<number> {
  const target = await resolveTarget();
  const { client, connection } = await connectClient(target);
  try {
    const { input, taskQueue } = await readExperimentInput(client, id);
    const workflowId = `${id}/reverify-${Date.now().toString(36)}`;
    const execute = () =>
      client.workflow.execute(reverifyWorkflow, {
        taskQueue,
        workflowId,
        args: [
          {
            runDir: input.runDir,
            format: answerFormatOf(input.config.problems),
            heartbeatTimeoutSeconds: input.config.temporal.heartbeatTimeoutSeconds,
          },
        ],
      });
    let result: Awaited<ReturnType<typeof execute>>;
    if (target.embedded) {
      const workerConnection = await connectWorker(target);
      const worker = await createWorker({
        connection: workerConnection,
        namespace: target.namespace,
        taskQueue,
      });
      result = await worker.runUntil(execute());
      await workerConnection.close();
    } else {
      result = await execute();
    }
    for (const source of ['wc', 'se'] as const) {
      const v = result.verify[source];
      console.log(`${source}: ${v.correct}/${v.samples} correct (verifier ${v.verifierVersion})`);
    }
    console.log(
      `Verdicts in ${path.join(input.runDir, VERDICTS_DIR)}, metrics in ${path.join(input.runDir, result.metrics)}`,
    );
    return 0;
  } finally {
    await connection.close();
  }
}
