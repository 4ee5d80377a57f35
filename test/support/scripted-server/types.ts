/**
 * Public types of the scripted server: what tests pass in (`ScriptedServerOptions`, `ModelScript`, `Fault`) and what
 * they read back (`ScriptedServer`, `ServerStats`, `RequestRecord`, the OpenAI-shaped file and job objects).
 */

export interface ChatMessage {
  role: string;
  /** Usually a string; content-part arrays are flattened to their text for `lastUserMessage` and token counts. */
  content: unknown;
  [key: string]: unknown;
}

export interface RespondContext {
  model: string;
  messages: ChatMessage[];
  /** Text of the last message with role `user` ('' if none). */
  lastUserMessage: string;
  choiceIndex: number;
  n: number;
  seed: number | undefined;
  /** Number of requests of this model served before this one (0-based, in serve order). */
  requestIndex: number;
  maxTokens: number | undefined;
  temperature: number | undefined;
  topP: number | undefined;
  stop: string | string[] | undefined;
}

export interface ScriptedChoice {
  content: string;
  /** Default 'stop'. */
  finishReason?: 'stop' | 'length';
  /** Default: number of whitespace-separated words of `content` (min 1). */
  completionTokens?: number;
}

export interface ModelScript {
  /** Called once per choice, synchronously, at the moment the response is written. */
  respond(ctx: RespondContext): ScriptedChoice;
  /** `false`: requests with n > 1 get a 400 (like endpoints that do not implement `n`). Default true. */
  supportsN?: boolean;
  /** Delay before answering each request of this model. Default 0 (no timer at all). */
  latencyMs?: number;
  /**
   * What `usage` the responses report (the server's own counters stay exact): 'exact' (default), 'zero'
   * (every count 0), 'none' (no usage object), or 'first-choice' (llama-server with n > 1: the
   * completion tokens of choice 0 only, with a llama.cpp-style `timings` object).
   */
  reportUsage?: 'exact' | 'zero' | 'none' | 'first-choice';
  /** `owned_by` of the model in `GET /v1/models` (default 'scripted'; llama-server says 'llamacpp'). */
  ownedBy?: string;
}

export type FaultStatus = 400 | 401 | 403 | 404 | 408 | 409 | 422 | 429 | 500 | 502 | 503 | 504;

interface FaultBase {
  /** Only match chat requests for this model. Default: any model. */
  model?: string;
  /** Number of matching requests this fault applies to. Default 1. */
  times?: number;
}
export interface StatusFault extends FaultBase {
  kind: 'status';
  status: FaultStatus;
  /** 429 always carries `retry-after` (default 0) and `retry-after-ms`; other statuses only when given. */
  retryAfterSeconds?: number;
  message?: string;
}
export interface HangFault extends FaultBase {
  kind: 'hang';
  /** Absent: never answer (until the client gives up: counted `aborted`). Given: answer normally after `ms`. */
  ms?: number;
}
export interface MalformedJsonFault extends FaultBase {
  kind: 'malformed-json';
}
export interface EmptyChoicesFault extends FaultBase {
  kind: 'empty-choices';
}
/** HTTP 200 whose body is not a chat completion: an HTML page, or an error object. */
export interface NotACompletionFault extends FaultBase {
  kind: 'not-a-completion';
  body: 'html' | 'error-object';
}
export type Fault = StatusFault | HangFault | MalformedJsonFault | EmptyChoicesFault | NotACompletionFault;

export interface FaultRate {
  status: FaultStatus;
  /** Probability in [0, 1] that a chat request (matching `model`) gets this status. */
  fraction: number;
  /** PRNG seed (mulberry32); default 1. Same seed + same request order => same faulted requests. */
  seed?: number;
  model?: string;
  retryAfterSeconds?: number;
}

export type RequestStatus = 'pending' | 'held' | 'served' | 'aborted' | 'faulted' | 'rejected' | 'error';

export interface RequestRecord {
  /** `x-request-id` of the request. */
  requestId: string;
  model: string;
  lastUserMessage: string;
  n: number;
  seed: number | undefined;
  temperature: number | undefined;
  maxTokens: number | undefined;
  status: RequestStatus;
  /** HTTP status written (undefined when none was written). */
  httpStatus?: number;
  /** Kind of the fault consumed by this request, if any. */
  fault?: Fault['kind'];
  /** Date.now() at arrival. */
  receivedAt: number;
}

export interface ModelStats {
  received: number;
  served: number;
  /** Choices in served responses (sum of n). */
  servedChoices: number;
  promptTokens: number;
  completionTokens: number;
  aborted: number;
  faulted: number;
  rejected: number;
}

/**
 * Live counters (the same object is mutated in place). Every chat completion request ends as exactly one of
 * `served`, `aborted`, `rejected`, `errors`, or "answered by its fault" (status / malformed-json / empty-choices), or is
 * still `inFlight`. `faulted` counts consumed faults, so it overlaps `served`/`aborted` for `hang` faults: a `hang`
 * with `ms` goes on as a normal request afterwards, a `hang` without `ms` ends `aborted` when the client gives up.
 * Faults are only applied to valid requests (known model, valid n/messages): invalid ones are `rejected` first.
 */
export interface ServerStats {
  /** Chat completion requests that arrived (counted before the body is read). */
  received: number;
  /** Completions fully written with status 200 and real choices: what a real API would bill. */
  served: number;
  /** Client disconnected before any response was written (killed worker, client timeout, AbortController). */
  aborted: number;
  /** Requests that consumed an injected fault (queued or by rate); see above. */
  faulted: number;
  /** 4xx answers from validation: malformed body, unknown model, unsupported n, ... */
  rejected: number;
  /** 500 answers because a script threw. */
  errors: number;
  /** Requests currently being processed (including held ones). */
  inFlight: number;
  /** Requests currently held by `holdAfter`. */
  held: number;
  /** Sum of served `n`. */
  servedChoices: number;
  usage: { promptTokens: number; completionTokens: number; totalTokens: number };
  perModel: Record<string, ModelStats>;
  /** Only filled when `options.recordRequests` is true; in arrival order. */
  requests: RequestRecord[];
  fineTuning: {
    filesCreated: number;
    jobsCreated: number;
    jobsCancelled: number;
    /** `GET /v1/fine_tuning/jobs/:id` calls. */
    jobPolls: number;
  };
}

export type JobStatus = 'validating_files' | 'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled';

export interface FineTuningJobObject {
  object: 'fine_tuning.job';
  id: string;
  created_at: number;
  error: { code: string; message: string; param: string | null } | null;
  fine_tuned_model: string | null;
  finished_at: number | null;
  hyperparameters: {
    n_epochs: number | 'auto';
    batch_size: number | 'auto';
    learning_rate_multiplier: number | 'auto';
    /** Extensions (the local engine's): train exactly this many steps; an absolute learning rate. */
    n_steps?: number;
    learning_rate?: number;
    /** Extension: evenly spaced servable checkpoints (`GET /v1/fine_tuning/jobs/:id/checkpoints`). */
    n_checkpoints?: number;
  };
  model: string;
  organization_id: string;
  result_files: string[];
  seed: number;
  status: JobStatus;
  trained_tokens: number | null;
  training_file: string;
  validation_file: string | null;
  estimated_finish: number | null;
  integrations: null;
  metadata: Record<string, string> | null;
  method: { type: 'supervised'; supervised: { hyperparameters: FineTuningJobObject['hyperparameters'] } };
  user_provided_suffix: string | null;
}

export interface FineTuningJobInfo {
  id: string;
  model: string;
  suffix: string | null;
  trainingFileContent: string;
  validationFileContent: string | undefined;
  hyperparameters: FineTuningJobObject['hyperparameters'];
}

export interface FileObjectRecord {
  object: 'file';
  id: string;
  bytes: number;
  created_at: number;
  filename: string;
  purpose: string;
  status: 'processed';
  status_details: null;
}

export interface FineTuningOptions {
  /** Number of `GET /v1/fine_tuning/jobs/:id` polls until the job ends (poll 1: queued, then running). */
  stepsToFinish?: number;
  /** Alternatively (or additionally) the job ends this long after creation. Default (neither given): 3 polls. */
  durationMs?: number;
  /** Training steps reported as events at the end when the job asks no `n_steps`. Default 3. */
  trainingSteps?: number;
  /** Check each training file line is JSON with a non-empty `messages` array (else fail). Default true. */
  validateTrainingFile?: boolean;
  /** Decide at the end whether the job fails: a message (code `invalid_training_file`) or a full error. */
  failWith?: (
    job: FineTuningJobInfo,
  ) => string | { code?: string; message: string; param?: string } | undefined;
  /** Script of the resulting model. Default: the base model's script (or an echo script if it has none). */
  modelFor?: (job: FineTuningJobInfo) => ModelScript;
  /** Script of a checkpoint (jobs with `n_checkpoints`). Default: the final model's. */
  checkpointModelFor?: (job: FineTuningJobInfo, step: number) => ModelScript;
}

export interface ScriptedServerOptions {
  models: Record<string, ModelScript>;
  /** Keep a per-request log in `stats.requests`. Default false. */
  recordRequests?: boolean;
  fineTuning?: FineTuningOptions;
  /** Default 0 (ephemeral). */
  port?: number;
}

export interface ScriptedServer {
  /** `http://127.0.0.1:<port>/v1`: pass as the OpenAI client's `baseURL`. */
  readonly baseURL: string;
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  readonly port: number;
  /** Live counters (mutated in place). */
  readonly stats: ServerStats;
  /** Zero every counter and the request log (does not touch faults, holds, files or jobs). */
  resetStats(): void;
  /** Add or replace a model's script. */
  setModel(name: string, script: ModelScript): void;
  /** Queue faults, consumed FIFO by the next matching chat requests. */
  injectFaults(...faults: Fault[]): void;
  /** Queued faults not yet consumed (a fault with `times: 3` used once counts once). */
  pendingFaults(): number;
  clearFaults(): void;
  /** Random faults for requests no queued fault matched; `undefined` turns them off. */
  setFaultRate(rate: FaultRate | undefined): void;
  /**
   * Once `served` (total over models) reaches `k`, hold further chat requests (no answer) until `release()` or until
   * the client disconnects (then `aborted`). Exactly `k` are served even under concurrency.
   */
  holdAfter(k: number): void;
  /**
   * Hold (no answer) every chat request `predicate` accepts, until `release()` without a count (which also stops
   * this) or until the client disconnects. Decided when the request would be served, one request at a time.
   */
  holdWhere(predicate: (request: { model: string; lastUserMessage: string }) => boolean): void;
  /**
   * Without `count`: stop holding and serve every held request. With `count`: serve the oldest `count` held requests
   * and keep holding the rest and new ones.
   */
  release(count?: number): void;
  waitForServed(k: number, timeoutMs?: number): Promise<void>;
  waitForHeld(k: number, timeoutMs?: number): Promise<void>;
  waitForReceived(k: number, timeoutMs?: number): Promise<void>;
  waitForAborted(k: number, timeoutMs?: number): Promise<void>;
  /** Resolves when `predicate(stats)` holds; checked after every change of the counters. */
  waitFor(predicate: (stats: ServerStats) => boolean, timeoutMs?: number, what?: string): Promise<void>;
  /** All fine-tuning jobs ever created, oldest first (current state). */
  jobs(): FineTuningJobObject[];
  /** All uploaded files, oldest first. */
  files(): FileObjectRecord[];
  fileContent(id: string): string | undefined;
  /** Make a job fail now (it must not have ended); error code `training_failed` unless given. */
  failJob(id: string, message: string, code?: string): void;
  /** Close the listener and every socket (held and hanging requests included). */
  close(): Promise<void>;
}
