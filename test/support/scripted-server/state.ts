/**
 * The one state object of a scripted server. Every route handler and control function takes it as its first
 * argument; nothing else holds server state. Counters live in `stats` (mutated in place, read live by tests), and
 * every change a test may wait for ends with `notify(state)`.
 */
import type http from 'node:http';
import type {
  Fault,
  FaultRate,
  FileObjectRecord,
  FineTuningJobInfo,
  FineTuningJobObject,
  FineTuningOptions,
  ModelScript,
  ModelStats,
  RequestRecord,
  ScriptedServerOptions,
  ServerStats,
} from './types.js';

/** One chat completion request, from arrival until it is answered or the client goes away. */
export interface ChatCall {
  res: http.ServerResponse;
  requestId: string;
  receivedAt: number;
  /** A response was written or the client went away. */
  done: boolean;
  /** Set once the body passed validation (then `model`, `script` and `body.messages` are valid). */
  model?: string;
  script?: ModelScript;
  body?: Record<string, unknown>;
  record?: RequestRecord;
  timer?: NodeJS.Timeout;
  held: boolean;
}

export interface QueuedFault {
  fault: Fault;
  remaining: number;
}

export interface JobEvent {
  object: 'fine_tuning.job.event';
  id: string;
  created_at: number;
  level: 'info' | 'warn' | 'error';
  message: string;
  data: Record<string, unknown> | null;
  type: 'message' | 'metrics';
}

export interface Job {
  obj: FineTuningJobObject;
  info: FineTuningJobInfo;
  createdMs: number;
  polls: number;
  events: JobEvent[];
  timer?: NodeJS.Timeout;
}

export interface StoredFile {
  obj: FileObjectRecord;
  content: Buffer;
}

interface Waiter {
  predicate: (s: ServerStats) => boolean;
  resolve: () => void;
  reject: (e: Error) => void;
  timer?: NodeJS.Timeout;
}

export interface ServerState {
  /** Servable models: the scripts given, `setModel` ones and fine-tuned ones. */
  models: Map<string, ModelScript>;
  recordRequests: boolean;
  fineTuning: FineTuningOptions;
  stats: ServerStats;
  /** Served requests per model: the `requestIndex` of its next one. */
  servedPerModel: Map<string, number>;
  /** Last number used for each kind of id (`req_1`, `chatcmpl-1`, `file-1`, `ftjob-1`, `ftevent-1`). */
  lastId: { request: number; completion: number; file: number; job: number; event: number };
  faultQueue: QueuedFault[];
  faultRate?: { rate: FaultRate; rng: () => number };
  /** `holdAfter(k)`: hold chat requests once `stats.served` reaches k. */
  holdLimit?: number;
  /** `holdWhere(predicate)`: hold the chat requests it accepts, whatever the counts. */
  holdPredicate?: (request: { model: string; lastUserMessage: string }) => boolean;
  /** Held chat requests, oldest first. */
  held: ChatCall[];
  waiters: Waiter[];
  closed: boolean;
  files: Map<string, StoredFile>;
  jobs: Map<string, Job>;
  /** Fine-tuned model name -> created_at (seconds). */
  fineTunedModels: Map<string, number>;
}

export function createState(options: ScriptedServerOptions): ServerState {
  return {
    models: new Map(Object.entries(options.models)),
    recordRequests: options.recordRequests === true,
    fineTuning: options.fineTuning ?? {},
    stats: emptyStats(),
    servedPerModel: new Map(),
    lastId: { request: 0, completion: 0, file: 0, job: 0, event: 0 },
    faultQueue: [],
    held: [],
    waiters: [],
    closed: false,
    files: new Map(),
    jobs: new Map(),
    fineTunedModels: new Map(),
  };
}

export function emptyStats(): ServerStats {
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

/** Zero every counter and the request log, keeping the live `inFlight` and `held` gauges. */
export function resetStats(state: ServerState): void {
  const { inFlight, held } = state.stats;
  Object.assign(state.stats, emptyStats(), { inFlight, held });
  state.servedPerModel.clear();
  notify(state);
}

/** The per-model counters of `model`, created on first use. */
export function modelStats(state: ServerState, model: string): ModelStats {
  let s = state.stats.perModel[model];
  if (!s) {
    s = {
      received: 0,
      served: 0,
      servedChoices: 0,
      promptTokens: 0,
      completionTokens: 0,
      aborted: 0,
      faulted: 0,
      rejected: 0,
    };
    state.stats.perModel[model] = s;
  }
  return s;
}

/** Resolves the waiters whose predicate now holds. Call after every change of the counters. */
export function notify(state: ServerState): void {
  if (state.waiters.length === 0) return;
  const still: Waiter[] = [];
  for (const w of state.waiters) {
    if (w.predicate(state.stats)) {
      if (w.timer) clearTimeout(w.timer);
      w.resolve();
    } else still.push(w);
  }
  state.waiters = still;
}

export function waitFor(
  state: ServerState,
  predicate: (s: ServerStats) => boolean,
  timeoutMs?: number,
  what = 'condition',
): Promise<void> {
  const { stats } = state;
  if (predicate(stats)) return Promise.resolve();
  if (state.closed) return Promise.reject(new Error(`scripted server closed while waiting for ${what}`));
  return new Promise<void>((resolve, reject) => {
    const w: Waiter = { predicate, resolve, reject };
    if (timeoutMs !== undefined) {
      w.timer = setTimeout(() => {
        state.waiters = state.waiters.filter((x) => x !== w);
        reject(
          new Error(
            `scripted server: timed out after ${timeoutMs} ms waiting for ${what} ` +
              `(received=${stats.received} served=${stats.served} held=${stats.held} aborted=${stats.aborted})`,
          ),
        );
      }, timeoutMs);
    }
    state.waiters.push(w);
  });
}

/** Rejects every pending waiter (the server is closing). */
export function rejectWaiters(state: ServerState): void {
  for (const w of state.waiters) {
    if (w.timer) clearTimeout(w.timer);
    w.reject(new Error('scripted server closed'));
  }
  state.waiters = [];
}
