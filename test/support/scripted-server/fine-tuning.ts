/**
 * `/v1/fine_tuning/jobs`: create, list, retrieve (each retrieve is a poll that can advance the job), list events and
 * cancel, in the shapes the `openai` v6 client expects.
 *
 * A job goes validating_files -> queued -> running -> succeeded (or failed / cancelled), driven by polls
 * (`stepsToFinish`, default 3) or by time (`durationMs`). On success its `fine_tuned_model` becomes a servable model
 * with the script `modelFor` gives (default: the base model's).
 */
import {
  listPage,
  notFound,
  nowSeconds,
  readBody,
  readJsonObject,
  sendError,
  sendJson,
  type Exchange,
  type Route,
} from './http.js';
import { notify, type Job, type JobEvent, type ServerState } from './state.js';
import { countWords } from './text.js';
import type { FineTuningJobObject, JobStatus, ModelScript } from './types.js';

type Hyperparameters = FineTuningJobObject['hyperparameters'];

export const fineTuningRoutes: Route[] = [
  { method: 'POST', path: '/v1/fine_tuning/jobs', handler: createJob },
  { method: 'GET', path: '/v1/fine_tuning/jobs', handler: listJobs },
  { method: 'GET', path: '/v1/fine_tuning/jobs/:id', handler: retrieveJob },
  { method: 'GET', path: '/v1/fine_tuning/jobs/:id/events', handler: listEvents },
  { method: 'GET', path: '/v1/fine_tuning/jobs/:id/checkpoints', handler: listCheckpoints },
  { method: 'POST', path: '/v1/fine_tuning/jobs/:id/cancel', handler: cancelJob },
];

// -- routes -----------------------------------------------------------------------------------------------------

async function createJob(state: ServerState, ex: Exchange): Promise<void> {
  const body = await readJsonObject(ex);
  if (!body) return;
  const model = typeof body.model === 'string' ? body.model : '';
  const trainingFile = typeof body.training_file === 'string' ? body.training_file : '';
  const validationFile = typeof body.validation_file === 'string' ? body.validation_file : null;
  if (!model) return sendError(ex, 400, "Missing 'model'.", 'invalid_request_error', null, 'model');
  const training = state.files.get(trainingFile);
  if (!training) {
    const message = `invalid training_file: ${trainingFile}`;
    return sendError(ex, 400, message, 'invalid_request_error', 'invalid_training_file', 'training_file');
  }
  const validation = validationFile === null ? undefined : state.files.get(validationFile);
  if (validationFile !== null && !validation) {
    const message = `invalid validation_file: ${validationFile}`;
    return sendError(ex, 400, message, 'invalid_request_error', 'invalid_validation_file', 'validation_file');
  }
  const job = newJob(state, body, model, training.content, validation?.content);
  state.jobs.set(job.obj.id, job);
  state.stats.fineTuning.jobsCreated++;
  notify(state);
  const durationMs = state.fineTuning.durationMs;
  if (durationMs !== undefined) {
    job.timer = setTimeout(() => finishJob(state, job), durationMs);
    job.timer.unref();
  }
  sendJson(ex, 200, job.obj);
}

function listJobs(state: ServerState, ex: Exchange): void {
  sendJson(ex, 200, listPage(allJobs(state).reverse(), ex.url, 20));
}

function retrieveJob(state: ServerState, ex: Exchange): void {
  const job = jobOf(state, ex);
  if (!job) return;
  state.stats.fineTuning.jobPolls++;
  advanceByPoll(state, job);
  sendJson(ex, 200, job.obj);
}

function listEvents(state: ServerState, ex: Exchange): void {
  const job = jobOf(state, ex);
  if (job) sendJson(ex, 200, listPage([...job.events].reverse(), ex.url, 20));
}

/** Servable checkpoints of each finished job that asked for `n_checkpoints`, ascending steps. */
const checkpointsOf = new WeakMap<Job, CheckpointObject[]>();

interface CheckpointObject {
  object: 'fine_tuning.job.checkpoint';
  id: string;
  created_at: number;
  fine_tuned_model_checkpoint: string;
  fine_tuning_job_id: string;
  step_number: number;
  metrics: Record<string, number>;
}

function listCheckpoints(state: ServerState, ex: Exchange): void {
  const job = jobOf(state, ex);
  // Newest first, as OpenAI lists them.
  if (job) sendJson(ex, 200, listPage([...(checkpointsOf.get(job) ?? [])].reverse(), ex.url, 10));
}

async function cancelJob(state: ServerState, ex: Exchange): Promise<void> {
  const job = jobOf(state, ex);
  if (!job) return;
  await readBody(ex.req);
  if (isTerminal(job.obj.status)) {
    const message = `Job ${job.obj.id} has already ${job.obj.status}.`;
    return sendError(ex, 400, message, 'invalid_request_error', 'invalid_state');
  }
  job.obj.status = 'cancelled';
  job.obj.finished_at = nowSeconds();
  job.obj.estimated_finish = null;
  if (job.timer) clearTimeout(job.timer);
  addEvent(state, job, 'Job cancelled');
  state.stats.fineTuning.jobsCancelled++;
  notify(state);
  sendJson(ex, 200, job.obj);
}

/** The job named by the route's `:id` (advanced by time), or `undefined` after answering 404. */
function jobOf(state: ServerState, ex: Exchange): Job | undefined {
  const job = state.jobs.get(ex.params.id);
  if (!job) notFound(ex, `fine-tuning job: ${ex.params.id}`);
  else advanceByTime(state, job);
  return job;
}

// -- control functions (ScriptedServer.jobs / failJob / close) ---------------------------------------------------

/** Every job, oldest first, advanced by time. */
export function allJobs(state: ServerState): FineTuningJobObject[] {
  const all = [...state.jobs.values()];
  for (const job of all) advanceByTime(state, job);
  return all.map((j) => j.obj);
}

export function failJob(state: ServerState, id: string, message: string, code: string): void {
  const job = state.jobs.get(id);
  if (!job) throw new Error(`scripted server: no job ${id}`);
  advanceByTime(state, job);
  if (isTerminal(job.obj.status)) throw new Error(`scripted server: job ${id} already ${job.obj.status}`);
  failJobNow(state, job, code, message, null);
}

export function stopJobTimers(state: ServerState): void {
  for (const job of state.jobs.values()) if (job.timer) clearTimeout(job.timer);
}

// -- job lifecycle ----------------------------------------------------------------------------------------------

function newJob(
  state: ServerState,
  body: Record<string, unknown>,
  model: string,
  training: Buffer,
  validation: Buffer | undefined,
): Job {
  const suffix = typeof body.suffix === 'string' && body.suffix ? body.suffix : null;
  const hp = resolveAuto(hyperparametersOf(body));
  const id = `ftjob-${++state.lastId.job}`;
  const obj: FineTuningJobObject = {
    object: 'fine_tuning.job',
    id,
    created_at: nowSeconds(),
    error: null,
    fine_tuned_model: null,
    finished_at: null,
    hyperparameters: hp,
    model,
    organization_id: 'org-scripted',
    result_files: [],
    seed: typeof body.seed === 'number' ? body.seed : 42,
    status: 'validating_files',
    trained_tokens: null,
    training_file: body.training_file as string,
    validation_file: typeof body.validation_file === 'string' ? body.validation_file : null,
    estimated_finish: null,
    integrations: null,
    metadata: (body.metadata as Record<string, string> | undefined) ?? null,
    method: { type: 'supervised', supervised: { hyperparameters: hp } },
    user_provided_suffix: suffix,
  };
  const info = {
    id,
    model,
    suffix,
    trainingFileContent: training.toString('utf8'),
    validationFileContent: validation?.toString('utf8'),
    hyperparameters: hp,
  };
  const job: Job = { obj, info, createdMs: Date.now(), polls: 0, events: [] };
  addEvent(state, job, `Created fine-tuning job: ${id}`);
  addEvent(state, job, `Validating training file: ${obj.training_file}`);
  return job;
}

function hyperparametersOf(body: Record<string, unknown>): Hyperparameters {
  const method = body.method as { supervised?: { hyperparameters?: Record<string, unknown> } } | undefined;
  const hp = (method?.supervised?.hyperparameters ?? body.hyperparameters ?? {}) as Record<string, unknown>;
  const pick = (v: unknown): number | 'auto' => (typeof v === 'number' ? v : 'auto');
  return {
    n_epochs: pick(hp.n_epochs),
    batch_size: pick(hp.batch_size),
    learning_rate_multiplier: pick(hp.learning_rate_multiplier),
    ...(typeof hp.n_steps === 'number' ? { n_steps: hp.n_steps } : {}),
    ...(typeof hp.learning_rate === 'number' ? { learning_rate: hp.learning_rate } : {}),
    ...(typeof hp.n_checkpoints === 'number' ? { n_checkpoints: hp.n_checkpoints } : {}),
  };
}

function resolveAuto(hp: Hyperparameters): Hyperparameters {
  return {
    ...hp,
    n_epochs: hp.n_epochs === 'auto' ? 3 : hp.n_epochs,
    batch_size: hp.batch_size === 'auto' ? 1 : hp.batch_size,
    learning_rate_multiplier: hp.learning_rate_multiplier === 'auto' ? 1.8 : hp.learning_rate_multiplier,
  };
}

function addEvent(
  state: ServerState,
  job: Job,
  message: string,
  level: JobEvent['level'] = 'info',
  data: Record<string, unknown> | null = null,
  type: JobEvent['type'] = 'message',
): void {
  const id = `ftevent-${++state.lastId.event}`;
  job.events.push({
    object: 'fine_tuning.job.event',
    id,
    created_at: nowSeconds(),
    level,
    message,
    data,
    type,
  });
}

function isTerminal(status: JobStatus): boolean {
  return status === 'succeeded' || status === 'failed' || status === 'cancelled';
}

function failJobNow(state: ServerState, job: Job, code: string, message: string, param: string | null): void {
  job.obj.status = 'failed';
  job.obj.error = { code, message, param };
  job.obj.finished_at = nowSeconds();
  job.obj.estimated_finish = null;
  if (job.timer) clearTimeout(job.timer);
  addEvent(state, job, `Job failed: ${message}`, 'error');
}

/** Why a training file is not JSONL chat examples (line numbers 1-based), or `undefined` if it is. */
function trainingFileProblem(content: string): string | undefined {
  const lines = content.split('\n');
  let examples = 0;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim();
    if (!line) continue;
    let parsed: unknown;
    try {
      parsed = JSON.parse(line);
    } catch {
      return `Invalid file format. Line ${i + 1} is not valid JSON.`;
    }
    const messages = (parsed as { messages?: unknown } | null)?.messages;
    if (!Array.isArray(messages) || messages.length === 0) {
      return `Invalid file format. Line ${i + 1}: missing or empty 'messages'.`;
    }
    examples++;
  }
  return examples === 0 ? 'Invalid file format. The training file has no examples.' : undefined;
}

/** validating_files -> queued (or failed on an invalid file). */
function leaveValidation(state: ServerState, job: Job): void {
  if (job.obj.status !== 'validating_files') return;
  if (state.fineTuning.validateTrainingFile !== false) {
    const problem = trainingFileProblem(job.info.trainingFileContent);
    if (problem) {
      const message = `${problem} (${job.obj.training_file})`;
      failJobNow(state, job, 'invalid_training_file', message, 'training_file');
      return;
    }
  }
  job.obj.status = 'queued';
  addEvent(state, job, 'Files validated, moving job to queued state');
}

function startRunning(state: ServerState, job: Job): void {
  leaveValidation(state, job);
  if (job.obj.status !== 'queued') return;
  job.obj.status = 'running';
  addEvent(state, job, 'Fine-tuning job started');
}

/** Runs the job to its end: failed by `failWith`, else succeeded with a new servable model. */
function finishJob(state: ServerState, job: Job): void {
  startRunning(state, job);
  if (job.obj.status !== 'running') return;
  const ft = state.fineTuning;
  const failure = ft.failWith?.(job.info);
  if (failure !== undefined) {
    const f = typeof failure === 'string' ? { message: failure } : failure;
    failJobNow(state, job, f.code ?? 'invalid_training_file', f.message, f.param ?? null);
    return;
  }
  const steps = job.obj.hyperparameters.n_steps ?? ft.trainingSteps ?? epochSteps(job);
  for (let s = 1; s <= steps; s++) {
    const loss = Number((1.5 / s).toFixed(4));
    const data = { step: s, total_steps: steps, train_loss: loss };
    addEvent(state, job, `Step ${s}/${steps}: training loss=${loss}`, 'info', data, 'metrics');
  }
  const name = `ft:${job.obj.model}:${job.obj.user_provided_suffix ?? 'wcse'}:${job.obj.id}`;
  const script = ft.modelFor?.(job.info) ?? state.models.get(job.obj.model) ?? echoScript(name);
  state.models.set(name, script);
  addCheckpoints(state, job, name, steps, script);
  state.fineTunedModels.set(name, nowSeconds());
  const epochs = typeof job.obj.hyperparameters.n_epochs === 'number' ? job.obj.hyperparameters.n_epochs : 1;
  job.obj.status = 'succeeded';
  job.obj.fine_tuned_model = name;
  job.obj.finished_at = nowSeconds();
  job.obj.estimated_finish = null;
  job.obj.trained_tokens = trainedTokens(job, epochs);
  addEvent(state, job, `New fine-tuned model created: ${name}`);
  addEvent(state, job, 'The job has successfully completed');
  if (job.timer) clearTimeout(job.timer);
}

/** `n_checkpoints` evenly spaced checkpoints ending at the last step, each a servable model. */
function addCheckpoints(
  state: ServerState,
  job: Job,
  name: string,
  steps: number,
  script: ModelScript,
): void {
  const count = job.obj.hyperparameters.n_checkpoints;
  if (count === undefined) return;
  const at = [
    ...new Set(Array.from({ length: count }, (_, i) => Math.max(1, Math.round((steps * (i + 1)) / count)))),
  ];
  const checkpoints = at.map((step): CheckpointObject => {
    const model = `${name}:ckpt-step-${step}`;
    state.models.set(model, state.fineTuning.checkpointModelFor?.(job.info, step) ?? script);
    state.fineTunedModels.set(model, nowSeconds());
    return {
      object: 'fine_tuning.job.checkpoint',
      id: `ftckpt-${job.obj.id}-${step}`,
      created_at: nowSeconds(),
      fine_tuned_model_checkpoint: model,
      fine_tuning_job_id: job.obj.id,
      step_number: step,
      metrics: { step },
    };
  });
  checkpointsOf.set(job, checkpoints);
}

/** Steps of whole epochs at the job's batch size (3 when it has none). */
function epochSteps(job: Job): number {
  const { n_epochs: epochs, batch_size: batch } = job.obj.hyperparameters;
  if (typeof epochs !== 'number' || typeof batch !== 'number') return 3;
  return Math.ceil(exampleCount(job) / batch) * epochs;
}

function exampleCount(job: Job): number {
  return job.info.trainingFileContent.split('\n').filter((line) => line.trim()).length;
}

/** Words of the training file per pass: epochs passes, or with `n_steps` the share of examples it went through. */
function trainedTokens(job: Job, epochs: number): number {
  const perPass = countWords(job.info.trainingFileContent);
  const { n_steps: steps, batch_size: batch } = job.obj.hyperparameters;
  if (steps === undefined) return perPass * epochs;
  const examples = exampleCount(job);
  const seen = steps * (typeof batch === 'number' ? batch : 1);
  return Math.round((perPass * seen) / Math.max(1, examples));
}

function echoScript(name: string): ModelScript {
  return { respond: () => ({ content: `Response from ${name}.` }) };
}

/** Time-driven progress (only with `durationMs`). */
function advanceByTime(state: ServerState, job: Job): void {
  const durationMs = state.fineTuning.durationMs;
  if (durationMs === undefined || isTerminal(job.obj.status)) return;
  const elapsed = Date.now() - job.createdMs;
  if (elapsed >= durationMs) finishJob(state, job);
  else if (elapsed >= durationMs * 0.2) startRunning(state, job);
  else if (elapsed >= durationMs * 0.1) leaveValidation(state, job);
}

/** Poll-driven progress: poll 1 queued, then running, poll `stepsToFinish` the end. */
function advanceByPoll(state: ServerState, job: Job): void {
  job.polls++;
  if (isTerminal(job.obj.status)) return;
  const ft = state.fineTuning;
  const steps = ft.stepsToFinish ?? (ft.durationMs === undefined ? 3 : undefined);
  if (steps === undefined) return;
  if (job.polls >= steps) finishJob(state, job);
  else if (job.polls === 1) leaveValidation(state, job);
  else startRunning(state, job);
}
