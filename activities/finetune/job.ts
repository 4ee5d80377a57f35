// The fine-tuning activity: upload the dataset, create ONE job, wait for it. The job id is saved in the
// store and in heartbeat details the moment it exists, so a crashed worker's retry resumes polling the
// same job and never starts a second one; a cancelled experiment cancels the job at the service.
import { CancelledFailure, Context } from '@temporalio/activity';
import type { DataSource, HyperparametersConfig } from '../../core/config.js';
import { failure, FailureType } from '../../core/failures.js';
import { finetuneFiles, warmupFinetuneFiles } from '../../core/layout.js';
import type { FinetuneResult, Setup } from '../../core/results.js';
import type { CheckpointRef } from '../../core/selection.js';
import {
  approximateTokens,
  jobTraining,
  trainingSection,
  type JobTraining,
  type TrainingRequest,
} from '../../core/training.js';
import { toTemporalFailure, type EndpointConfig } from '../endpoint.js';
import { openStore, readJson, writeJson, type ArtifactStore } from '../store.js';
import { TERMINAL_STATUSES, type FineTuningBackend, type JobEvent, type JobSnapshot } from './backend.js';
import { OpenAIFineTuningBackend } from './openai-backend.js';

export interface FinetuneJobInput {
  runDir: string;
  experimentId: string;
  setup: Setup;
  data: DataSource;
  backend: 'openai';
  service: EndpointConfig;
  /** The base model's id at the fine-tuning service. */
  baseModel: string;
  trainKey: string;
  validationKey: string | null;
  hyperparameters: HyperparametersConfig;
  /** Steps (matched) or epochs; absent in inputs scheduled before matched training: the epochs then. */
  training?: TrainingRequest;
  /** Whether the service takes `n_steps` (models.<role>.fineTuning.supportsSteps); default true. */
  supportsSteps?: boolean;
  /** Parameters of the trained model, for the training FLOPs (0 when unknown). */
  params?: number;
  /** Model selection: this job's learning rate's index in the grid (its own files), and checkpoints to leave. */
  gridPoint?: number;
  checkpoints?: number;
  suffix: string;
  pollIntervalSeconds: number;
  /**
   * The warm-up stage's job of the `data` source's model (setup and data both name that source): its files
   * are warmup/<source>/ (core/layout.ts), not a setup's.
   */
  warmup?: boolean;
}

interface JobRecord {
  trainingFileId?: string;
  validationFileId?: string | null;
  /** Written before the create call: a retry that finds it without a job id looks the job up by it. */
  runKey?: string;
  jobId?: string;
  startedAtMs?: number;
  /** Bumped when a job ends failed or cancelled, so the next run (`wcse resume`) starts a fresh job. */
  generation?: number;
  endedJobs?: Array<{ jobId: string; status: string; error: string | null }>;
}

export function backendFor(kind: 'openai', service: EndpointConfig): FineTuningBackend {
  switch (kind) {
    case 'openai':
      return new OpenAIFineTuningBackend(service);
  }
}

export async function runFinetuneJob(input: FinetuneJobInput): Promise<FinetuneResult> {
  const store = openStore(input.runDir);
  const files =
    input.warmup && input.data !== 'gold'
      ? warmupFinetuneFiles(input.data)
      : finetuneFiles(input.setup, input.data, input.gridPoint);
  const name = input.warmup ? `warmup-${input.data}` : `${input.setup}-on-${input.data}`;
  const finished = await readJson<FinetuneResult>(store, files.result);
  if (finished) return finished;
  const what = input.warmup
    ? `warming up ${input.baseModel} (the ${input.data.toUpperCase()} model) at ${input.service.baseURL}`
    : `fine-tuning ${input.baseModel} on ${input.data} data (${input.setup} setup) at ${input.service.baseURL}`;
  const backend = backendFor(input.backend, input.service);
  const context = Context.current();
  const record: JobRecord = (await readJson<JobRecord>(store, files.job)) ?? {};
  const save = () => writeJson(store, files.job, record);
  const request: TrainingRequest = input.training ?? {
    mode: 'epochs',
    epochs: input.hyperparameters.epochs ?? 3,
    batchSize: input.hyperparameters.batchSize ?? null,
  };
  const dataset = await datasetFacts(store, input.trainKey);
  const sent: JobTraining = jobTraining(request, dataset.examples, input.supportsSteps ?? true);
  try {
    if (!record.trainingFileId) {
      record.trainingFileId = await upload(
        store,
        backend,
        input.trainKey,
        `${input.setup}-${input.data}-train.jsonl`,
      );
      await save();
    }
    if (record.validationFileId === undefined) {
      record.validationFileId = input.validationKey
        ? await upload(store, backend, input.validationKey, `${input.setup}-${input.data}-validation.jsonl`)
        : null;
      await save();
    }
    if (!record.jobId) {
      const grid = input.gridPoint === undefined ? '' : `/lr-${input.gridPoint}`;
      record.runKey ??= `${input.experimentId}/${name}${grid}/${record.generation ?? 0}`;
      record.startedAtMs ??= Date.now();
      await save();
      const adopted = await findJobByRunKey(backend, record.runKey);
      const job =
        adopted ??
        (await backend.createJob({
          model: input.baseModel,
          trainingFileId: record.trainingFileId,
          validationFileId: record.validationFileId,
          suffix: input.suffix,
          hyperparameters: input.hyperparameters,
          training: sent,
          // n_checkpoints is an extension (the local engine): an epochs-only service keeps its own checkpoints.
          checkpoints: input.supportsSteps === false ? null : (input.checkpoints ?? null),
          metadata: { wcse_run_key: record.runKey },
        }));
      record.jobId = job.id;
      await save();
    }
  } catch (error) {
    throw toTemporalFailure(error, what);
  }
  const jobId = record.jobId;
  context.heartbeat({ jobId });
  // A job that ended without a model is not polled again by a later run: that run starts a new one.
  const retire = async (status: string, error: string | null) => {
    record.endedJobs = [...(record.endedJobs ?? []), { jobId, status, error }];
    record.generation = (record.generation ?? 0) + 1;
    delete record.jobId;
    delete record.runKey;
    delete record.startedAtMs;
    await save();
  };

  let job: JobSnapshot;
  try {
    job = await pollUntilDone(backend, jobId, input.pollIntervalSeconds, context);
  } catch (error) {
    if (error instanceof CancelledFailure || context.cancellationSignal.aborted) {
      // The experiment was cancelled: stop paying for the job.
      await backend.cancelJob(jobId).catch(() => undefined);
      await retire('cancelled', 'the experiment was cancelled');
      throw error instanceof CancelledFailure ? error : new CancelledFailure('cancelled');
    }
    throw toTemporalFailure(error, what);
  }
  const events: JobEvent[] = await backend.listEvents(jobId).catch(() => []);
  await writeJson(store, files.events, events);
  if (job.status !== 'succeeded' || !job.fineTunedModel) {
    await retire(job.status, job.error);
    throw failure(
      FailureType.FineTuningJobFailed,
      `${what}: job ${jobId} ${job.status}: ${job.error ?? 'no reason given by the service'}`,
    );
  }
  let checkpoints: CheckpointRef[] | undefined;
  if (input.checkpoints !== undefined) {
    try {
      checkpoints = await backend.listCheckpoints(jobId);
    } catch (error) {
      throw toTemporalFailure(error, `${what}: listing the checkpoints of job ${jobId}`);
    }
    // A service without checkpoints still has its final model: a grid of one step per learning rate.
    if (!checkpoints.length) {
      checkpoints = [{ step: stepsOfEvents(events) ?? 0, model: job.fineTunedModel }];
    }
  }
  const result: FinetuneResult = {
    setup: input.setup,
    data: input.data,
    baseModel: input.baseModel,
    jobId,
    fineTunedModel: job.fineTunedModel,
    status: job.status,
    trainedTokens: job.trainedTokens,
    hyperparameters: { ...input.hyperparameters, ...sentHyperparameters(sent) },
    trainingFileId: record.trainingFileId!,
    validationFileId: record.validationFileId ?? null,
    eventsKey: files.events,
    wallSeconds: (Date.now() - (record.startedAtMs ?? Date.now())) / 1000,
    training: trainingSection(request, sent, {
      examples: dataset.examples,
      datasetTokens: dataset.tokens,
      params: input.params ?? 0,
      serviceSteps: stepsOfEvents(events),
      serviceTokens: job.trainedTokens,
    }),
    ...(checkpoints ? { checkpoints } : {}),
  };
  await writeJson(store, files.result, result);
  return result;
}

function sentHyperparameters(sent: JobTraining): Record<string, number> {
  return {
    ...(sent.steps !== null ? { steps: sent.steps } : {}),
    ...(sent.epochs !== null ? { epochs: sent.epochs } : {}),
    ...(sent.batchSize !== null ? { batchSize: sent.batchSize } : {}),
  };
}

/** Examples of a chat JSONL dataset and its approximate tokens (chars/4 of every message's text). */
async function datasetFacts(
  store: ArtifactStore,
  key: string,
): Promise<{ examples: number; tokens: number }> {
  const content = (await store.read(key))?.toString('utf8') ?? '';
  let examples = 0;
  let tokens = 0;
  for (const line of content.split('\n')) {
    if (!line.trim()) continue;
    examples++;
    tokens += approximateTokens(messageCharacters(line));
  }
  return { examples, tokens };
}

/** Characters of a chat example's message text; a line that is not one counts whole (the service judges it). */
function messageCharacters(line: string): number {
  try {
    const row = JSON.parse(line) as { messages?: Array<{ content?: unknown }> };
    return (row.messages ?? []).reduce(
      (sum, message) => sum + (typeof message.content === 'string' ? message.content.length : 0),
      0,
    );
  } catch {
    return line.length;
  }
}

/** The steps a service says its job trained: the largest `total_steps` (or `step`) in its events' data. */
function stepsOfEvents(events: JobEvent[]): number | null {
  let steps: number | null = null;
  for (const event of events) {
    const data = event.data as { step?: unknown; total_steps?: unknown } | null | undefined;
    for (const value of [data?.total_steps, data?.step]) {
      if (typeof value === 'number' && Number.isFinite(value)) steps = Math.max(steps ?? 0, value);
    }
  }
  return steps;
}

async function upload(
  store: ArtifactStore,
  backend: FineTuningBackend,
  key: string,
  name: string,
): Promise<string> {
  const content = await store.read(key);
  if (!content) {
    throw failure(
      FailureType.MissingArtifact,
      `${store.location}: dataset ${key} is missing; the experiment's datasets stage writes it`,
    );
  }
  return backend.uploadFile(name, content);
}

async function findJobByRunKey(backend: FineTuningBackend, runKey: string): Promise<JobSnapshot | null> {
  const jobs = await backend.listJobs(100);
  return jobs.find((job) => job.metadata?.wcse_run_key === runKey && job.status !== 'failed') ?? null;
}

async function pollUntilDone(
  backend: FineTuningBackend,
  jobId: string,
  intervalSeconds: number,
  context: Context,
): Promise<JobSnapshot> {
  let interval = Math.min(2, intervalSeconds);
  for (;;) {
    const job = await backend.getJob(jobId);
    context.heartbeat({ jobId, status: job.status });
    if (TERMINAL_STATUSES.has(job.status)) return job;
    // Start quick, settle at the configured interval: short jobs finish promptly, long ones poll gently.
    await context.sleep(interval * 1000);
    interval = Math.min(intervalSeconds, interval * 2);
  }
}
