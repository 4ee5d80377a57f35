/**
 * A scripted, in-process OpenAI-compatible HTTP server for tests and benchmarks.
 *
 * - `POST /v1/chat/completions`: answers from per-model scripts (`ModelScript.respond`, once per choice), with
 *   OpenAI-shaped responses and errors, `usage`, `x-request-id`.
 * - Exact accounting of what a real API would bill (`served`) against what arrived (`received`), what the
 *   client abandoned (`aborted`), what was answered by an injected fault (`faulted`) and what was refused
 *   (`rejected`). See {@link ServerStats}.
 * - Faults on demand (`injectFaults`, `setFaultRate`), holding responses (`holdAfter`, `release`) and waiting for
 *   counts (`waitForServed`, `waitForHeld`, ...), for tests that kill a worker mid-sampling.
 * - Files + fine-tuning jobs (`/v1/files`, `/v1/fine_tuning/jobs`) in the shapes the `openai` v6 client expects;
 *   a succeeded job's `fine_tuned_model` becomes servable by chat completions.
 *
 * Built on `node:http` only. Zero per-request logging and no timers unless latency is asked for, so it can serve
 * 10,000s of completions in a benchmark.
 *
 * @example
 * ```ts
 * const server = await startScriptedServer({
 *   models: { 'wc-model': answerScript({ gold: goldTable({ 'What is 6*7?': '42' }), correctFraction: 0.5 }) },
 * });
 * const client = new OpenAI({ baseURL: server.baseURL, apiKey: 'test', maxRetries: 0 });
 * server.injectFaults({ kind: 'status', status: 429, retryAfterSeconds: 0 });
 * // ... run the code under test ...
 * expect(server.stats.served).toBe(10);
 * await server.close();
 * ```
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export { answerScript, goldTable, FLAWED_REASONING_MARKER } from './scripted-answers.js';
export type { AnswerScriptOptions, AnswerScript, SampleInfo } from './scripted-answers.js';

// ---------------------------------------------------------------------------------------------------------------
// Public types
// ---------------------------------------------------------------------------------------------------------------

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
export type Fault = StatusFault | HangFault | MalformedJsonFault | EmptyChoicesFault;

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
  /** Training steps reported as events at the end. Default 3. */
  trainingSteps?: number;
  /** Check each training file line is JSON with a non-empty `messages` array (else fail). Default true. */
  validateTrainingFile?: boolean;
  /** Decide at the end whether the job fails: a message (code `invalid_training_file`) or a full error. */
  failWith?: (
    job: FineTuningJobInfo,
  ) => string | { code?: string; message: string; param?: string } | undefined;
  /** Script of the resulting model. Default: the base model's script (or an echo script if it has none). */
  modelFor?: (job: FineTuningJobInfo) => ModelScript;
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

// ---------------------------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------------------------

/** Number of whitespace-separated words (fast loop, no regex). */
export function countWords(text: string): number {
  let count = 0;
  let inWord = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    const space = c === 32 || c === 10 || c === 9 || c === 13 || c === 12 || c === 11;
    if (space) inWord = false;
    else if (!inWord) {
      inWord = true;
      count++;
    }
  }
  return count;
}

function contentText(content: unknown): string {
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) {
    let out = '';
    for (const part of content) {
      if (part && typeof part === 'object' && typeof (part as { text?: unknown }).text === 'string') {
        out += (out ? '\n' : '') + (part as { text: string }).text;
      }
    }
    return out;
  }
  return '';
}

function errorBody(message: string, type: string, code: string | null, param: string | null = null): string {
  return JSON.stringify({ error: { message, type, param, code } });
}

const STATUS_ERRORS: Record<number, { type: string; code: string | null; message: string }> = {
  400: { type: 'invalid_request_error', code: null, message: 'Bad request (injected fault).' },
  401: { type: 'invalid_request_error', code: 'invalid_api_key', message: 'Incorrect API key provided.' },
  403: {
    type: 'permission_error',
    code: 'permission_denied',
    message: 'You are not allowed to use this model.',
  },
  404: { type: 'invalid_request_error', code: 'model_not_found', message: 'The model does not exist.' },
  408: { type: 'timeout_error', code: null, message: 'Request timed out.' },
  409: { type: 'invalid_request_error', code: 'conflict', message: 'Conflict.' },
  422: { type: 'invalid_request_error', code: null, message: 'Unprocessable entity.' },
  429: { type: 'requests', code: 'rate_limit_exceeded', message: 'Rate limit reached for requests.' },
  500: {
    type: 'server_error',
    code: null,
    message: 'The server had an error while processing your request.',
  },
  502: { type: 'server_error', code: null, message: 'Bad gateway.' },
  503: {
    type: 'server_error',
    code: null,
    message: 'The engine is currently overloaded, please try again later.',
  },
  504: { type: 'server_error', code: null, message: 'Gateway timeout.' },
};

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface MultipartPart {
  name: string;
  filename?: string;
  data: Buffer;
}

/** Minimal multipart/form-data parser (what undici's FormData sends). */
export function parseMultipart(body: Buffer, contentType: string): MultipartPart[] {
  const m = /boundary=(?:"([^"]+)"|([^;]+))/i.exec(contentType);
  if (!m) throw new Error('multipart body without boundary');
  const delimiter = Buffer.from(`--${m[1] ?? m[2]}`);
  const parts: MultipartPart[] = [];
  let pos = body.indexOf(delimiter);
  while (pos !== -1) {
    let start = pos + delimiter.length;
    if (body[start] === 45 && body[start + 1] === 45) break; // closing "--"
    if (body[start] === 13 && body[start + 1] === 10) start += 2;
    const next = body.indexOf(delimiter, start);
    if (next === -1) break;
    const headerEnd = body.indexOf('\r\n\r\n', start);
    if (headerEnd === -1 || headerEnd > next) break;
    const headers = body.subarray(start, headerEnd).toString('utf8');
    let end = next;
    if (body[end - 2] === 13 && body[end - 1] === 10) end -= 2;
    const disposition = /content-disposition:[^\r\n]*/i.exec(headers)?.[0] ?? '';
    const name = /\bname="([^"]*)"/i.exec(disposition)?.[1];
    const filename = /\bfilename="([^"]*)"/i.exec(disposition)?.[1];
    if (name !== undefined) parts.push({ name, filename, data: body.subarray(headerEnd + 4, end) });
    pos = next;
  }
  return parts;
}

function echoScript(name: string): ModelScript {
  return { respond: () => ({ content: `Response from ${name}.` }) };
}

function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}

// ---------------------------------------------------------------------------------------------------------------
// Server
// ---------------------------------------------------------------------------------------------------------------

interface ChatState {
  req: http.IncomingMessage;
  res: http.ServerResponse;
  requestId: string;
  /** A response was written or the client went away. */
  done: boolean;
  model?: string;
  script?: ModelScript;
  body?: Record<string, unknown>;
  record?: RequestRecord;
  timer?: NodeJS.Timeout;
  held: boolean;
}

interface QueuedFault {
  fault: Fault;
  remaining: number;
}

interface JobState {
  obj: FineTuningJobObject;
  info: FineTuningJobInfo;
  createdMs: number;
  polls: number;
  events: Array<{
    object: 'fine_tuning.job.event';
    id: string;
    created_at: number;
    level: 'info' | 'warn' | 'error';
    message: string;
    data: Record<string, unknown> | null;
    type: 'message' | 'metrics';
  }>;
  timer?: NodeJS.Timeout;
}

interface Waiter {
  predicate: (s: ServerStats) => boolean;
  resolve: () => void;
  reject: (e: Error) => void;
  timer?: NodeJS.Timeout;
}

function emptyStats(): ServerStats {
  return {
    received: 0,
    served: 0,
    aborted: 0,
    faulted: 0,
    rejected: 0,
    errors: 0,
    inFlight: 0,
    held: 0,
    servedChoices: 0,
    usage: { promptTokens: 0, completionTokens: 0, totalTokens: 0 },
    perModel: {},
    requests: [],
    fineTuning: { filesCreated: 0, jobsCreated: 0, jobsCancelled: 0, jobPolls: 0 },
  };
}

function emptyModelStats(): ModelStats {
  return {
    received: 0,
    served: 0,
    servedChoices: 0,
    promptTokens: 0,
    completionTokens: 0,
    aborted: 0,
    faulted: 0,
    rejected: 0,
  };
}

export async function startScriptedServer(options: ScriptedServerOptions): Promise<ScriptedServer> {
  const models = new Map<string, ModelScript>(Object.entries(options.models));
  const recordRequests = options.recordRequests === true;
  const ft = options.fineTuning ?? {};
  const stats = emptyStats();
  const servedPerModel = new Map<string, number>();

  let requestCounter = 0;
  let completionCounter = 0;
  let fileCounter = 0;
  let jobCounter = 0;
  let eventCounter = 0;

  const faultQueue: QueuedFault[] = [];
  let faultRate: { rate: FaultRate; rng: () => number } | undefined;
  let holdLimit: number | undefined;
  const heldQueue: ChatState[] = [];
  let waiters: Waiter[] = [];
  let closed = false;

  const files = new Map<string, { obj: FileObjectRecord; content: Buffer }>();
  const jobs = new Map<string, JobState>();
  const ftModels = new Map<string, number>(); // name -> created_at

  function modelStats(model: string): ModelStats {
    let s = stats.perModel[model];
    if (!s) {
      s = emptyModelStats();
      stats.perModel[model] = s;
    }
    return s;
  }

  function notify(): void {
    if (waiters.length === 0) return;
    const still: Waiter[] = [];
    for (const w of waiters) {
      if (w.predicate(stats)) {
        if (w.timer) clearTimeout(w.timer);
        w.resolve();
      } else still.push(w);
    }
    waiters = still;
  }

  function waitFor(
    predicate: (s: ServerStats) => boolean,
    timeoutMs?: number,
    what = 'condition',
  ): Promise<void> {
    if (predicate(stats)) return Promise.resolve();
    if (closed) return Promise.reject(new Error(`scripted server closed while waiting for ${what}`));
    return new Promise<void>((resolve, reject) => {
      const w: Waiter = { predicate, resolve, reject };
      if (timeoutMs !== undefined) {
        w.timer = setTimeout(() => {
          waiters = waiters.filter((x) => x !== w);
          reject(
            new Error(
              `scripted server: timed out after ${timeoutMs} ms waiting for ${what} ` +
                `(received=${stats.received} served=${stats.served} held=${stats.held} aborted=${stats.aborted})`,
            ),
          );
        }, timeoutMs);
      }
      waiters.push(w);
    });
  }

  // -- response writing -------------------------------------------------------------------------------------------

  function writeRaw(
    res: http.ServerResponse,
    status: number,
    body: string,
    requestId: string,
    extraHeaders?: Record<string, string>,
    contentType = 'application/json',
  ): void {
    const headers: Record<string, string | number> = {
      'content-type': contentType,
      'content-length': Buffer.byteLength(body),
      'x-request-id': requestId,
    };
    if (extraHeaders) Object.assign(headers, extraHeaders);
    res.writeHead(status, headers);
    res.end(body);
  }

  /** Ends a chat request with a non-served outcome. Returns false if it had already ended. */
  function finishChat(
    st: ChatState,
    outcome: 'faulted' | 'rejected' | 'error',
    status: number,
    body: string,
    extraHeaders?: Record<string, string>,
  ): boolean {
    if (st.done) return false;
    st.done = true;
    stats.inFlight--;
    if (outcome === 'rejected') {
      stats.rejected++;
      if (st.model && models.has(st.model)) modelStats(st.model).rejected++;
    } else if (outcome === 'error') stats.errors++;
    if (st.record) {
      st.record.status = outcome;
      st.record.httpStatus = status;
    }
    writeRaw(st.res, status, body, st.requestId, extraHeaders);
    notify();
    return true;
  }

  // -- chat completions -------------------------------------------------------------------------------------------

  function handleChat(req: http.IncomingMessage, res: http.ServerResponse, requestId: string): void {
    stats.received++;
    stats.inFlight++;
    const st: ChatState = { req, res, requestId, done: false, held: false };
    res.on('close', () => {
      if (st.done) return;
      st.done = true;
      stats.inFlight--;
      stats.aborted++;
      if (st.timer) clearTimeout(st.timer);
      if (st.held) {
        st.held = false;
        stats.held--;
        const i = heldQueue.indexOf(st);
        if (i !== -1) heldQueue.splice(i, 1);
      }
      if (st.model && models.has(st.model)) modelStats(st.model).aborted++;
      if (st.record) st.record.status = 'aborted';
      notify();
    });
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (st.done) return;
      let body: unknown;
      try {
        body = JSON.parse(
          chunks.length === 1 ? chunks[0].toString('utf8') : Buffer.concat(chunks).toString('utf8'),
        );
      } catch (e) {
        finishChat(
          st,
          'rejected',
          400,
          errorBody(
            `We could not parse the JSON body of your request. (${(e as Error).message})`,
            'invalid_request_error',
            null,
          ),
        );
        return;
      }
      onChatBody(st, body);
    });
    notify();
  }

  function onChatBody(st: ChatState, raw: unknown): void {
    if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
      finishChat(
        st,
        'rejected',
        400,
        errorBody('The request body must be a JSON object.', 'invalid_request_error', null),
      );
      return;
    }
    const body = raw as Record<string, unknown>;
    st.body = body;
    const model = typeof body.model === 'string' ? body.model : '';
    st.model = model;
    const messages = Array.isArray(body.messages) ? (body.messages as ChatMessage[]) : undefined;
    const n = body.n === undefined || body.n === null ? 1 : body.n;
    const script = models.get(model);
    if (script) modelStats(model).received++;
    if (recordRequests) {
      let lastUser = '';
      if (messages) {
        for (let i = messages.length - 1; i >= 0; i--) {
          if (messages[i] && messages[i].role === 'user') {
            lastUser = contentText(messages[i].content);
            break;
          }
        }
      }
      st.record = {
        requestId: st.requestId,
        model,
        lastUserMessage: lastUser,
        n: typeof n === 'number' ? n : NaN,
        seed: typeof body.seed === 'number' ? body.seed : undefined,
        temperature: typeof body.temperature === 'number' ? body.temperature : undefined,
        maxTokens: maxTokensOf(body),
        status: 'pending',
        receivedAt: Date.now(),
      };
      stats.requests.push(st.record);
    }

    if (!model) {
      finishChat(
        st,
        'rejected',
        400,
        errorBody('You must provide a model parameter.', 'invalid_request_error', null),
      );
      return;
    }
    if (!script) {
      finishChat(
        st,
        'rejected',
        404,
        errorBody(
          `The model \`${model}\` does not exist`,
          'invalid_request_error',
          'model_not_found',
          'model',
        ),
      );
      return;
    }
    st.script = script;
    if (!messages || messages.length === 0) {
      finishChat(
        st,
        'rejected',
        400,
        errorBody("'messages' must be a non-empty array.", 'invalid_request_error', null, 'messages'),
      );
      return;
    }
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > 128) {
      finishChat(
        st,
        'rejected',
        400,
        errorBody(
          `Invalid value for 'n': expected an integer between 1 and 128.`,
          'invalid_request_error',
          'invalid_value',
          'n',
        ),
      );
      return;
    }
    if (n > 1 && script.supportsN === false) {
      finishChat(
        st,
        'rejected',
        400,
        errorBody(
          `Unsupported value: 'n' must be 1 for model ${model} (got ${n}).`,
          'invalid_request_error',
          'unsupported_value',
          'n',
        ),
      );
      return;
    }
    if (body.stream === true) {
      finishChat(
        st,
        'rejected',
        400,
        errorBody(
          'Streaming is not supported by the scripted server.',
          'invalid_request_error',
          null,
          'stream',
        ),
      );
      return;
    }
    // Faults apply to valid requests only, so a fault is never wasted on a request the endpoint refuses anyway.
    const fault = takeFault(model);
    if (fault) {
      stats.faulted++;
      modelStats(model).faulted++;
      if (st.record) st.record.fault = fault.kind;
      if (applyFault(st, fault)) return;
    }
    afterLatency(st);
  }

  function maxTokensOf(body: Record<string, unknown>): number | undefined {
    if (typeof body.max_tokens === 'number') return body.max_tokens;
    if (typeof body.max_completion_tokens === 'number') return body.max_completion_tokens;
    return undefined;
  }

  function takeFault(model: string): Fault | undefined {
    for (let i = 0; i < faultQueue.length; i++) {
      const q = faultQueue[i];
      if (q.fault.model !== undefined && q.fault.model !== model) continue;
      q.remaining--;
      if (q.remaining <= 0) faultQueue.splice(i, 1);
      return q.fault;
    }
    if (faultRate && (faultRate.rate.model === undefined || faultRate.rate.model === model)) {
      if (faultRate.rng() < faultRate.rate.fraction) {
        return {
          kind: 'status',
          status: faultRate.rate.status,
          retryAfterSeconds: faultRate.rate.retryAfterSeconds,
        };
      }
    }
    return undefined;
  }

  /** Returns true when the request ended (or is parked) because of the fault; false to continue normally. */
  function applyFault(st: ChatState, fault: Fault): boolean {
    switch (fault.kind) {
      case 'status': {
        const def = STATUS_ERRORS[fault.status] ?? STATUS_ERRORS[500];
        const headers: Record<string, string> = {};
        if (fault.status === 429 || fault.retryAfterSeconds !== undefined) {
          const secs = fault.retryAfterSeconds ?? 0;
          headers['retry-after'] = String(secs);
          headers['retry-after-ms'] = String(Math.round(secs * 1000));
        }
        finishChat(
          st,
          'faulted',
          fault.status,
          errorBody(fault.message ?? def.message, def.type, def.code),
          headers,
        );
        return true;
      }
      case 'malformed-json':
        finishChat(
          st,
          'faulted',
          200,
          `{"id":"chatcmpl-${++completionCounter}","object":"chat.completion","choices":[{`,
        );
        return true;
      case 'empty-choices':
        finishChat(
          st,
          'faulted',
          200,
          JSON.stringify({
            id: `chatcmpl-${++completionCounter}`,
            object: 'chat.completion',
            created: nowSeconds(),
            model: st.model,
            choices: [],
            usage: { prompt_tokens: 0, completion_tokens: 0, total_tokens: 0 },
          }),
        );
        return true;
      case 'hang':
        if (fault.ms === undefined) return true; // never answer; 'close' counts it aborted
        st.timer = setTimeout(() => {
          st.timer = undefined;
          afterLatency(st);
        }, fault.ms);
        return true;
    }
  }

  function afterLatency(st: ChatState): void {
    const latency = st.script?.latencyMs ?? 0;
    if (latency > 0) {
      st.timer = setTimeout(() => {
        st.timer = undefined;
        serve(st, false);
      }, latency);
    } else serve(st, false);
  }

  function serve(st: ChatState, bypassHold: boolean): void {
    if (st.done) return;
    if (!bypassHold && holdLimit !== undefined && stats.served >= holdLimit) {
      st.held = true;
      stats.held++;
      heldQueue.push(st);
      if (st.record) st.record.status = 'held';
      notify();
      return;
    }
    if (st.held) {
      st.held = false;
      stats.held--;
    }
    const body = st.body as Record<string, unknown>;
    const model = st.model as string;
    const script = st.script as ModelScript;
    const messages = body.messages as ChatMessage[];
    const n = (body.n ?? 1) as number;
    let promptTokens = 0;
    let lastUserMessage = '';
    for (let i = 0; i < messages.length; i++) {
      const text = contentText(messages[i]?.content);
      promptTokens += countWords(text) + 4;
      if (messages[i]?.role === 'user') lastUserMessage = text;
    }
    const requestIndex = servedPerModel.get(model) ?? 0;
    const ctxBase = {
      model,
      messages,
      lastUserMessage,
      n,
      seed: typeof body.seed === 'number' ? body.seed : undefined,
      requestIndex,
      maxTokens: maxTokensOf(body),
      temperature: typeof body.temperature === 'number' ? body.temperature : undefined,
      topP: typeof body.top_p === 'number' ? body.top_p : undefined,
      stop: body.stop as string | string[] | undefined,
    };
    const choices: unknown[] = new Array(n);
    let completionTokens = 0;
    try {
      for (let i = 0; i < n; i++) {
        const c = script.respond({ ...ctxBase, choiceIndex: i });
        const tokens = c.completionTokens ?? Math.max(1, countWords(c.content));
        completionTokens += tokens;
        choices[i] = {
          index: i,
          message: { role: 'assistant', content: c.content, refusal: null },
          logprobs: null,
          finish_reason: c.finishReason ?? 'stop',
        };
      }
    } catch (e) {
      finishChat(
        st,
        'error',
        500,
        errorBody(`Scripted model ${model} threw: ${(e as Error).message}`, 'server_error', null),
      );
      return;
    }
    st.done = true;
    stats.inFlight--;
    stats.served++;
    stats.servedChoices += n;
    stats.usage.promptTokens += promptTokens;
    stats.usage.completionTokens += completionTokens;
    stats.usage.totalTokens += promptTokens + completionTokens;
    servedPerModel.set(model, requestIndex + 1);
    const ms = modelStats(model);
    ms.served++;
    ms.servedChoices += n;
    ms.promptTokens += promptTokens;
    ms.completionTokens += completionTokens;
    if (st.record) {
      st.record.status = 'served';
      st.record.httpStatus = 200;
    }
    writeRaw(
      st.res,
      200,
      JSON.stringify({
        id: `chatcmpl-${++completionCounter}`,
        object: 'chat.completion',
        created: nowSeconds(),
        model,
        choices,
        usage: {
          prompt_tokens: promptTokens,
          completion_tokens: completionTokens,
          total_tokens: promptTokens + completionTokens,
        },
        system_fingerprint: null,
      }),
      st.requestId,
    );
    notify();
  }

  // -- files ------------------------------------------------------------------------------------------------------

  function readBody(req: http.IncomingMessage): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => resolve(Buffer.concat(chunks)));
      req.on('error', reject);
    });
  }

  async function handleFileUpload(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    rid: string,
  ): Promise<void> {
    const body = await readBody(req);
    const ct = req.headers['content-type'] ?? '';
    if (!ct.toLowerCase().startsWith('multipart/form-data')) {
      writeRaw(res, 400, errorBody('Expected multipart/form-data.', 'invalid_request_error', null), rid);
      return;
    }
    let parts: MultipartPart[];
    try {
      parts = parseMultipart(body, ct);
    } catch (e) {
      writeRaw(res, 400, errorBody((e as Error).message, 'invalid_request_error', null), rid);
      return;
    }
    const file = parts.find((p) => p.name === 'file');
    const purpose = parts.find((p) => p.name === 'purpose')?.data.toString('utf8');
    if (!file) {
      writeRaw(res, 400, errorBody("Missing 'file'.", 'invalid_request_error', null, 'file'), rid);
      return;
    }
    if (!purpose) {
      writeRaw(res, 400, errorBody("Missing 'purpose'.", 'invalid_request_error', null, 'purpose'), rid);
      return;
    }
    const content = Buffer.from(file.data);
    const obj: FileObjectRecord = {
      object: 'file',
      id: `file-${++fileCounter}`,
      bytes: content.length,
      created_at: nowSeconds(),
      filename: file.filename ?? 'upload',
      purpose,
      status: 'processed',
      status_details: null,
    };
    files.set(obj.id, { obj, content });
    stats.fineTuning.filesCreated++;
    notify();
    writeRaw(res, 200, JSON.stringify(obj), rid);
  }

  // -- fine-tuning ------------------------------------------------------------------------------------------------

  function addEvent(
    job: JobState,
    message: string,
    level: 'info' | 'warn' | 'error' = 'info',
    data: Record<string, unknown> | null = null,
    type: 'message' | 'metrics' = 'message',
  ): void {
    job.events.push({
      object: 'fine_tuning.job.event',
      id: `ftevent-${++eventCounter}`,
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

  function failJobState(job: JobState, code: string, message: string, param: string | null): void {
    job.obj.status = 'failed';
    job.obj.error = { code, message, param };
    job.obj.finished_at = nowSeconds();
    job.obj.estimated_finish = null;
    if (job.timer) clearTimeout(job.timer);
    addEvent(job, `Job failed: ${message}`, 'error');
  }

  function validateTrainingFile(content: string): string | undefined {
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
      const msgs = (parsed as { messages?: unknown } | null)?.messages;
      if (!Array.isArray(msgs) || msgs.length === 0) {
        return `Invalid file format. Line ${i + 1}: missing or empty 'messages'.`;
      }
      examples++;
    }
    if (examples === 0) return 'Invalid file format. The training file has no examples.';
    return undefined;
  }

  /** validating_files -> queued (or failed on an invalid file). */
  function leaveValidation(job: JobState): void {
    if (job.obj.status !== 'validating_files') return;
    if (ft.validateTrainingFile !== false) {
      const problem = validateTrainingFile(job.info.trainingFileContent);
      if (problem) {
        failJobState(job, 'invalid_training_file', `${problem} (${job.obj.training_file})`, 'training_file');
        return;
      }
    }
    job.obj.status = 'queued';
    addEvent(job, 'Files validated, moving job to queued state');
  }

  function startRunning(job: JobState): void {
    leaveValidation(job);
    if (job.obj.status !== 'queued') return;
    job.obj.status = 'running';
    addEvent(job, 'Fine-tuning job started');
  }

  function finishJob(job: JobState): void {
    startRunning(job);
    if (job.obj.status !== 'running') return;
    const failure = ft.failWith?.(job.info);
    if (failure !== undefined) {
      const f = typeof failure === 'string' ? { message: failure } : failure;
      failJobState(job, f.code ?? 'invalid_training_file', f.message, f.param ?? null);
      return;
    }
    const steps = ft.trainingSteps ?? 3;
    for (let s = 1; s <= steps; s++) {
      const loss = Number((1.5 / s).toFixed(4));
      addEvent(
        job,
        `Step ${s}/${steps}: training loss=${loss}`,
        'info',
        { step: s, total_steps: steps, train_loss: loss },
        'metrics',
      );
    }
    const name = `ft:${job.obj.model}:${job.obj.user_provided_suffix ?? 'wcse'}:${job.obj.id}`;
    const script = ft.modelFor?.(job.info) ?? models.get(job.obj.model) ?? echoScript(name);
    models.set(name, script);
    ftModels.set(name, nowSeconds());
    const epochs =
      typeof job.obj.hyperparameters.n_epochs === 'number' ? job.obj.hyperparameters.n_epochs : 1;
    job.obj.status = 'succeeded';
    job.obj.fine_tuned_model = name;
    job.obj.finished_at = nowSeconds();
    job.obj.estimated_finish = null;
    job.obj.trained_tokens = countWords(job.info.trainingFileContent) * epochs;
    addEvent(job, `New fine-tuned model created: ${name}`);
    addEvent(job, 'The job has successfully completed');
    if (job.timer) clearTimeout(job.timer);
  }

  /** Time-driven progress (only with durationMs). */
  function advanceByTime(job: JobState): void {
    if (ft.durationMs === undefined || isTerminal(job.obj.status)) return;
    const elapsed = Date.now() - job.createdMs;
    if (elapsed >= ft.durationMs) finishJob(job);
    else if (elapsed >= ft.durationMs * 0.2) startRunning(job);
    else if (elapsed >= ft.durationMs * 0.1) leaveValidation(job);
  }

  function advanceByPoll(job: JobState): void {
    job.polls++;
    if (isTerminal(job.obj.status)) return;
    const steps = ft.stepsToFinish ?? (ft.durationMs === undefined ? 3 : undefined);
    if (steps === undefined) return;
    if (job.polls >= steps) finishJob(job);
    else if (job.polls === 1) leaveValidation(job);
    else startRunning(job);
  }

  function hyperparametersOf(body: Record<string, unknown>): FineTuningJobObject['hyperparameters'] {
    const method = body.method as { supervised?: { hyperparameters?: Record<string, unknown> } } | undefined;
    const hp = (method?.supervised?.hyperparameters ?? body.hyperparameters ?? {}) as Record<string, unknown>;
    const pick = (v: unknown, fallback: number | 'auto'): number | 'auto' =>
      typeof v === 'number' ? v : v === 'auto' ? 'auto' : fallback;
    return {
      n_epochs: pick(hp.n_epochs, 'auto'),
      batch_size: pick(hp.batch_size, 'auto'),
      learning_rate_multiplier: pick(hp.learning_rate_multiplier, 'auto'),
    };
  }

  function resolveAuto(hp: FineTuningJobObject['hyperparameters']): FineTuningJobObject['hyperparameters'] {
    return {
      n_epochs: hp.n_epochs === 'auto' ? 3 : hp.n_epochs,
      batch_size: hp.batch_size === 'auto' ? 1 : hp.batch_size,
      learning_rate_multiplier: hp.learning_rate_multiplier === 'auto' ? 1.8 : hp.learning_rate_multiplier,
    };
  }

  async function handleCreateJob(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    rid: string,
  ): Promise<void> {
    let body: Record<string, unknown>;
    try {
      body = JSON.parse((await readBody(req)).toString('utf8')) as Record<string, unknown>;
      if (!body || typeof body !== 'object') throw new Error('not an object');
    } catch {
      writeRaw(
        res,
        400,
        errorBody('We could not parse the JSON body of your request.', 'invalid_request_error', null),
        rid,
      );
      return;
    }
    const model = typeof body.model === 'string' ? body.model : '';
    const trainingFile = typeof body.training_file === 'string' ? body.training_file : '';
    const validationFile = typeof body.validation_file === 'string' ? body.validation_file : null;
    if (!model) {
      writeRaw(res, 400, errorBody("Missing 'model'.", 'invalid_request_error', null, 'model'), rid);
      return;
    }
    const training = files.get(trainingFile);
    if (!training) {
      writeRaw(
        res,
        400,
        errorBody(
          `invalid training_file: ${trainingFile}`,
          'invalid_request_error',
          'invalid_training_file',
          'training_file',
        ),
        rid,
      );
      return;
    }
    const validation = validationFile === null ? undefined : files.get(validationFile);
    if (validationFile !== null && !validation) {
      writeRaw(
        res,
        400,
        errorBody(
          `invalid validation_file: ${validationFile}`,
          'invalid_request_error',
          'invalid_validation_file',
          'validation_file',
        ),
        rid,
      );
      return;
    }
    const suffix = typeof body.suffix === 'string' && body.suffix ? body.suffix : null;
    const hp = resolveAuto(hyperparametersOf(body));
    const id = `ftjob-${++jobCounter}`;
    const now = nowSeconds();
    const obj: FineTuningJobObject = {
      object: 'fine_tuning.job',
      id,
      created_at: now,
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
      training_file: trainingFile,
      validation_file: validationFile,
      estimated_finish: null,
      integrations: null,
      metadata: (body.metadata as Record<string, string> | undefined) ?? null,
      method: { type: 'supervised', supervised: { hyperparameters: hp } },
      user_provided_suffix: suffix,
    };
    const job: JobState = {
      obj,
      info: {
        id,
        model,
        suffix,
        trainingFileContent: training.content.toString('utf8'),
        validationFileContent: validation?.content.toString('utf8'),
        hyperparameters: hp,
      },
      createdMs: Date.now(),
      polls: 0,
      events: [],
    };
    addEvent(job, `Created fine-tuning job: ${id}`);
    addEvent(job, `Validating training file: ${trainingFile}`);
    jobs.set(id, job);
    stats.fineTuning.jobsCreated++;
    notify();
    if (ft.durationMs !== undefined) {
      job.timer = setTimeout(() => finishJob(job), ft.durationMs);
      job.timer.unref();
    }
    writeRaw(res, 200, JSON.stringify(obj), rid);
  }

  function listPage<T extends { id: string }>(items: T[], url: URL, defaultLimit: number): string {
    const limit = Math.max(
      1,
      Math.min(100, Number(url.searchParams.get('limit') ?? defaultLimit) || defaultLimit),
    );
    const after = url.searchParams.get('after');
    let start = 0;
    if (after) {
      const i = items.findIndex((x) => x.id === after);
      start = i === -1 ? items.length : i + 1;
    }
    const data = items.slice(start, start + limit);
    return JSON.stringify({ object: 'list', data, has_more: start + limit < items.length });
  }

  function getJob(id: string): JobState | undefined {
    const job = jobs.get(id);
    if (job) advanceByTime(job);
    return job;
  }

  function notFound(res: http.ServerResponse, rid: string, what: string): void {
    writeRaw(res, 404, errorBody(`No such ${what}`, 'invalid_request_error', 'not_found'), rid);
  }

  // -- routing ----------------------------------------------------------------------------------------------------

  async function route(req: http.IncomingMessage, res: http.ServerResponse, rid: string): Promise<void> {
    const method = req.method ?? 'GET';
    const rawUrl = req.url ?? '/';
    const url = new URL(rawUrl, 'http://127.0.0.1');
    const path = url.pathname.replace(/\/+$/, '');
    const seg = path.split('/').filter(Boolean); // ['v1', ...]
    if (seg[0] !== 'v1') return notFound(res, rid, `route ${method} ${path}`);

    if (method === 'GET' && seg.length === 2 && seg[1] === 'models') {
      const data = [...models.keys()].map((id) => ({
        id,
        object: 'model',
        created: ftModels.get(id) ?? 0,
        owned_by: ftModels.has(id) ? 'user' : 'scripted',
      }));
      return writeRaw(res, 200, JSON.stringify({ object: 'list', data }), rid);
    }
    if (method === 'GET' && seg.length >= 3 && seg[1] === 'models') {
      const id = decodeURIComponent(seg.slice(2).join('/'));
      if (!models.has(id)) {
        return writeRaw(
          res,
          404,
          errorBody(
            `The model \`${id}\` does not exist`,
            'invalid_request_error',
            'model_not_found',
            'model',
          ),
          rid,
        );
      }
      const body = {
        id,
        object: 'model',
        created: ftModels.get(id) ?? 0,
        owned_by: ftModels.has(id) ? 'user' : 'scripted',
      };
      return writeRaw(res, 200, JSON.stringify(body), rid);
    }

    if (seg[1] === 'files') {
      if (method === 'POST' && seg.length === 2) return handleFileUpload(req, res, rid);
      if (method === 'GET' && seg.length === 2) {
        const data = [...files.values()].map((f) => f.obj);
        return writeRaw(res, 200, JSON.stringify({ object: 'list', data, has_more: false }), rid);
      }
      const f = seg[2] ? files.get(seg[2]) : undefined;
      if (!f) return notFound(res, rid, `file: ${seg[2]}`);
      if (method === 'GET' && seg.length === 3) return writeRaw(res, 200, JSON.stringify(f.obj), rid);
      if (method === 'DELETE' && seg.length === 3) {
        files.delete(f.obj.id);
        return writeRaw(res, 200, JSON.stringify({ id: f.obj.id, object: 'file', deleted: true }), rid);
      }
      if (method === 'GET' && seg.length === 4 && seg[3] === 'content') {
        res.writeHead(200, {
          'content-type': 'application/octet-stream',
          'content-length': f.content.length,
          'x-request-id': rid,
        });
        res.end(f.content);
        return;
      }
      return notFound(res, rid, `route ${method} ${path}`);
    }

    if (seg[1] === 'fine_tuning' && seg[2] === 'jobs') {
      if (method === 'POST' && seg.length === 3) return handleCreateJob(req, res, rid);
      if (method === 'GET' && seg.length === 3) {
        const all = [...jobs.values()];
        all.forEach(advanceByTime);
        return writeRaw(res, 200, listPage(all.map((j) => j.obj).reverse(), url, 20), rid);
      }
      const job = seg[3] ? getJob(seg[3]) : undefined;
      if (!job) return notFound(res, rid, `fine-tuning job: ${seg[3]}`);
      if (method === 'GET' && seg.length === 4) {
        stats.fineTuning.jobPolls++;
        advanceByPoll(job);
        return writeRaw(res, 200, JSON.stringify(job.obj), rid);
      }
      if (method === 'GET' && seg.length === 5 && seg[4] === 'events') {
        return writeRaw(res, 200, listPage([...job.events].reverse(), url, 20), rid);
      }
      if (method === 'POST' && seg.length === 5 && seg[4] === 'cancel') {
        await readBody(req);
        if (isTerminal(job.obj.status)) {
          return writeRaw(
            res,
            400,
            errorBody(
              `Job ${job.obj.id} has already ${job.obj.status}.`,
              'invalid_request_error',
              'invalid_state',
            ),
            rid,
          );
        }
        job.obj.status = 'cancelled';
        job.obj.finished_at = nowSeconds();
        job.obj.estimated_finish = null;
        if (job.timer) clearTimeout(job.timer);
        addEvent(job, 'Job cancelled');
        stats.fineTuning.jobsCancelled++;
        notify();
        return writeRaw(res, 200, JSON.stringify(job.obj), rid);
      }
      return notFound(res, rid, `route ${method} ${path}`);
    }
    return notFound(res, rid, `route ${method} ${path}`);
  }

  const server = http.createServer((req, res) => {
    const rid = `req_${++requestCounter}`;
    if (
      req.method === 'POST' &&
      (req.url === '/v1/chat/completions' || req.url?.startsWith('/v1/chat/completions?'))
    ) {
      handleChat(req, res, rid);
      return;
    }
    route(req, res, rid).catch((e: unknown) => {
      if (!res.headersSent) writeRaw(res, 500, errorBody(String(e), 'server_error', null), rid);
      else res.destroy();
    });
  });
  server.keepAliveTimeout = 30_000;
  // Hanging requests must not be cut by Node's defaults; close() destroys everything anyway.
  server.requestTimeout = 0;
  server.headersTimeout = 0;

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const url = `http://127.0.0.1:${port}`;

  return {
    baseURL: `${url}/v1`,
    url,
    port,
    stats,
    resetStats() {
      const fresh = emptyStats();
      const inFlight = stats.inFlight;
      const held = stats.held;
      Object.assign(stats, fresh, { inFlight, held });
      servedPerModel.clear();
      notify();
    },
    setModel(name, script) {
      models.set(name, script);
    },
    injectFaults(...faults) {
      for (const fault of faults) faultQueue.push({ fault, remaining: fault.times ?? 1 });
    },
    pendingFaults() {
      return faultQueue.length;
    },
    clearFaults() {
      faultQueue.length = 0;
    },
    setFaultRate(rate) {
      faultRate = rate ? { rate, rng: mulberry32(rate.seed ?? 1) } : undefined;
    },
    holdAfter(k) {
      holdLimit = k;
    },
    release(count) {
      if (count === undefined) holdLimit = undefined;
      const toServe = heldQueue.splice(0, count ?? heldQueue.length);
      for (const st of toServe) serve(st, true);
      notify();
    },
    waitForServed: (k, t) => waitFor((s) => s.served >= k, t, `served >= ${k}`),
    waitForHeld: (k, t) => waitFor((s) => s.held >= k, t, `held >= ${k}`),
    waitForReceived: (k, t) => waitFor((s) => s.received >= k, t, `received >= ${k}`),
    waitForAborted: (k, t) => waitFor((s) => s.aborted >= k, t, `aborted >= ${k}`),
    waitFor,
    jobs() {
      const all = [...jobs.values()];
      all.forEach(advanceByTime);
      return all.map((j) => j.obj);
    },
    files() {
      return [...files.values()].map((f) => f.obj);
    },
    fileContent(id) {
      return files.get(id)?.content.toString('utf8');
    },
    failJob(id, message, code = 'training_failed') {
      const job = getJob(id);
      if (!job) throw new Error(`scripted server: no job ${id}`);
      if (isTerminal(job.obj.status)) throw new Error(`scripted server: job ${id} already ${job.obj.status}`);
      failJobState(job, code, message, null);
    },
    close() {
      closed = true;
      for (const job of jobs.values()) if (job.timer) clearTimeout(job.timer);
      for (const w of waiters) {
        if (w.timer) clearTimeout(w.timer);
        w.reject(new Error('scripted server closed'));
      }
      waiters = [];
      return new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}
