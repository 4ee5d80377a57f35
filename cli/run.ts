// `wcse run` and `wcse resume`: start (or re-start from its artifacts) an experiment, and in the
// embedded default also run a worker in this process until the experiment closes.
import type { Client } from '@temporalio/client';
import {
  isGrpcServiceError,
  WorkflowExecutionAlreadyStartedError,
  WorkflowIdReusePolicy,
} from '@temporalio/client';
import proto from '@temporalio/proto';
import path from 'node:path';
import { fnv1a64 } from '../core/hash.js';
import { rootFailureType } from '../core/failures.js';
import { VERDICTS_DIR } from '../core/layout.js';
import { checkRunDirOwner } from '../activities/prepare.js';
import { openStore } from '../activities/store.js';
import { experimentWorkflow, type ExperimentInput } from '../workflows/experiment.js';
import { reverifyWorkflow } from '../workflows/reverify.js';
import { answerFormatOf, lastNumberFallbackOf, type ExperimentConfig } from '../core/config.js';
import { confirmationReasons } from '../core/plan.js';
import { planExperiment } from '../activities/planning.js';
import { createRoleWorkers, createWorker, runWorkersUntil } from '../workers/worker.js';
import { WORKER_ROLES } from '../core/task-queues.js';
import { ensureDevServer } from '../workers/temporal-cli.js';
import { loadConfigFile } from './config-file.js';
import { isStudyFile } from './study-file.js';
import { studyRunCommand } from './study-run.js';
import { connectClient, connectWorker, resolveTarget, stateDir, type TemporalTarget } from './connect.js';
import { watchExperiment } from './progress.js';
import { where } from './report.js';

export function experimentIdFor(input: Omit<ExperimentInput, 'experimentId'>): string {
  return `${input.config.name}-${fnv1a64(JSON.stringify(input.config)).slice(0, 8)}`;
}

export interface RunOptions {
  wait?: boolean;
  id?: string;
  /** Start even when the plan is above the config's `confirmAbove` thresholds. */
  yes?: boolean;
}

/**
 * The plan's totals above `confirmAbove` (samples, FLOPs, dollars), printed with how to go on; true when
 * the run may start (nothing above, or `--yes`). Plans nothing that it does not print.
 */
async function confirmPlan(config: ExperimentConfig, yes: boolean): Promise<boolean> {
  const { plan } = await planExperiment(config);
  const reasons = confirmationReasons(plan, config.confirmAbove);
  if (!reasons.length) return true;
  const lines = reasons.map((reason) => `  - ${reason}`).join('\n');
  if (yes) {
    console.error(`Starting a large plan (--yes):\n${lines}`);
    return true;
  }
  console.error(
    `error: this plan is large:\n${lines}\n` +
      'Check it with `wcse plan` (a parameter count missing its unit, a budget off by a power of ten?), ' +
      'then run again with --yes, or raise confirmAbove in the config.',
  );
  return false;
}

export async function runCommand(configFile: string, options: RunOptions): Promise<number> {
  // A study config (a top-level `arms` list) starts the study workflow (cli/study-run.ts).
  if (await isStudyFile(configFile)) return studyRunCommand(configFile, options);
  const loaded = await loadConfigFile(configFile);
  if (!(await confirmPlan(loaded.config, options.yes ?? false))) return 1;
  const base = { runDir: loaded.runDir, config: loaded.config };
  const input: ExperimentInput = { ...base, experimentId: options.id ?? experimentIdFor(base) };
  // Nothing is written here: the experiment's prepare stage records its input once every check passed.
  // A run directory that another experiment owns is refused before anything starts.
  try {
    await checkRunDirOwner(openStore(input.runDir), input.experimentId);
  } catch (error) {
    console.error(`error: ${rootFailureType(error)}: ${rootCause(error)}`);
    return 2;
  }
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
    const follow = async (abort?: AbortSignal) => {
      for (let restarts = 0; ; restarts++) {
        try {
          const status = await watchExperiment(client, input.experimentId, 1000, abort);
          return await reportOutcome(client, input.experimentId, status);
        } catch (error) {
          // Embedded, the dev server is ours to bring back: on its recorded ports and database, so this
          // client and the worker reconnect to it by themselves and the experiment goes on where it was.
          const restart =
            target.embedded &&
            !abort?.aborted &&
            serverUnreachable(error) &&
            restarts < MAX_DEV_SERVER_RESTARTS;
          if (!restart) throw error;
          console.error('The local Temporal dev server does not answer: restarting it and re-attaching...');
          await ensureDevServer({ stateDir: path.join(stateDir(), 'temporal') });
        }
      }
    };
    if (!target.embedded) {
      // Only following: SIGINT/SIGTERM stop this process (the Temporal runtime's handlers, installed by
      // cli/main.ts, only shut workers down, and there is none here: without these the signal was ignored).
      const followed = await untilStopSignal((stop) => follow(stop));
      if (followed.stopped) {
        console.error(stoppedFollowing(input.experimentId, 'this process stopped following it'));
        return 1;
      }
      return followed.value;
    }
    // Embedded: this process is the worker, for every role's task queue; it stops when the experiment closes.
    const workerConnection = await connectWorker(target);
    const workers = await createRoleWorkers({
      connection: workerConnection,
      namespace: target.namespace,
      temporal: { ...input.config.temporal, taskQueue },
      roles: WORKER_ROLES,
    });
    const outcome = await runWorkersUntil(
      workers.map((w) => w.worker),
      (abort) => follow(abort),
    );
    await workerConnection.close();
    if (outcome.done) return outcome.value;
    // SIGINT/SIGTERM (or a fatal worker error) stopped the worker: stop following, and exit.
    console.error(stoppedFollowing(input.experimentId, 'this process no longer runs a worker for it'));
    return 1;
  } finally {
    await connection.close();
  }
}

/**
 * Runs `use` until SIGINT or SIGTERM aborts its signal: for commands that only follow an experiment. The
 * Temporal runtime's handlers (installed by cli/main.ts) only shut workers down, so without these a
 * process with no worker ignored the signal. `use` must end (reject) soon after the abort.
 */
export async function untilStopSignal<T>(
  use: (stop: AbortSignal) => Promise<T>,
): Promise<{ stopped: false; value: T } | { stopped: true }> {
  const stop = new AbortController();
  const onSignal = () => stop.abort(new Error('stopped by a signal'));
  const signals = ['SIGINT', 'SIGTERM'] as const;
  for (const signal of signals) process.once(signal, onSignal);
  try {
    return { stopped: false, value: await use(stop.signal) };
  } catch (error) {
    if (!stop.signal.aborted) throw error;
    return { stopped: true };
  } finally {
    for (const signal of signals) process.off(signal, onSignal);
  }
}

/** What `wcse run` says when a signal stopped it before the experiment closed. */
function stoppedFollowing(id: string, what: string): string {
  return (
    `Stopped: ${what}; experiment ${id} stays on the server (\`wcse status ${id}\`; ` +
    `\`wcse resume ${id} --wait\` runs a worker for it again, \`wcse cancel ${id}\` ends it).`
  );
}

/** How often one `wcse run` brings a dead embedded dev server back before it gives up. */
const MAX_DEV_SERVER_RESTARTS = 5;

/** gRPC UNAVAILABLE (14) or DEADLINE_EXCEEDED (4) anywhere in the cause chain: the server did not answer. */
function serverUnreachable(error: unknown): boolean {
  for (let e: unknown = error; e; e = (e as { cause?: unknown }).cause) {
    if (isGrpcServiceError(e) && (e.code === 14 || e.code === 4)) return true;
  }
  return false;
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
        `Report: ${where(openStore(result.runDir), result.report.reportMd)}\n\n${result.report.headline}\n`,
      );
    }
    for (const source of ['wc', 'se'] as const) {
      const sampling = result.sampling[source];
      const verify = result.verify[source];
      console.error(
        `  ${source}: ${sampling.samplesPerQuestion} samples/question, ${verify.correct}/${verify.samples} correct, ` +
          `${result.datasets[source].train.examples} training examples, ${sampling.ledger.flops.toExponential(3)} FLOPs`,
      );
      const repaid = sampling.ledger.repaidRequests ?? 0;
      if (repaid > 0) {
        console.error(
          `  ${source}: ${repaid} request(s) paid twice (responses lost to a crash, cancel or timeout, or a ` +
            'lost batch sampled again), counted in the ledger and charged to the budget at their worst case',
        );
      }
    }
    if (result.datasets.gold) {
      console.error(
        `  gold: ${result.datasets.gold.train.examples} training examples (human-written solutions, the GT baseline)`,
      );
    }
    return 0;
  }
  try {
    await handle.result();
  } catch (error) {
    const type = rootFailureType(error);
    console.error(`Experiment ${id} ${status.toLowerCase()}: ${type ? `${type}: ` : ''}${rootCause(error)}`);
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
      // Embedded, nothing runs its work unless some `wcse` process is a worker for it: with --wait this
      // one always is (two workers share the work); without, when no worker has polled lately.
      if (!target.embedded) return 0;
      if (!options.wait && (await workerPolling(client, target.namespace, experiment.taskQueue))) {
        console.error(
          `A worker polls ${experiment.taskQueue}. If none is running any more (one killed in the last ` +
            `minute may still be listed), \`wcse resume ${id} --wait\` runs one here.`,
        );
        return 0;
      }
      console.error(`This process runs a worker for ${id} until the experiment closes.`);
    }
  } finally {
    await connection.close();
  }
  if (experiment.status !== 'RUNNING') console.error(`Resuming ${id} from ${experiment.input.runDir}`);
  return startAndFollow(target, experiment.input, experiment.taskQueue, options.wait ?? false);
}

/**
 * Whether a worker polls the task queue for workflow (or activity) tasks now. The server lists pollers for
 * minutes after they are gone; a live one polls again at least every long poll (60 s), so older ones are
 * not counted.
 */
export async function workerPolling(
  client: Client,
  namespace: string,
  taskQueue: string,
  kind: 'workflow' | 'activity' = 'workflow',
): Promise<boolean> {
  const { TaskQueueType } = proto.temporal.api.enums.v1;
  const response = await client.workflowService.describeTaskQueue({
    namespace,
    taskQueue: { name: taskQueue },
    taskQueueType:
      kind === 'workflow' ? TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW : TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY,
  });
  const recent = Date.now() - 75_000;
  return (response.pollers ?? []).some(
    (poller) => Number(poller.lastAccessTime?.seconds ?? 0) * 1000 >= recent,
  );
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
            lastNumberFallback: lastNumberFallbackOf(input.config),
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
      const failures = v.extractionFailures;
      const noAnswer = failures ? `, no answer found in ${failures.noAnswer + failures.truncated}` : '';
      console.log(`${source}: ${v.correct}/${v.samples} correct${noAnswer} (verifier ${v.verifierVersion})`);
    }
    console.log(
      `Verdicts in ${where(openStore(input.runDir), VERDICTS_DIR)}, metrics in ${where(openStore(input.runDir), result.metrics)}`,
    );
    return 0;
  } finally {
    await connection.close();
  }
}
