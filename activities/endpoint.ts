// Talking to an OpenAI-compatible endpoint from activities: one client per endpoint, keys read from the
// environment here (never from workflow inputs), concurrency and rate limits per worker process, and one
// call path (`callChat`) that sampling, evaluation and the judge share, so every chat request honours the
// same limits and fails the same way: as a Temporal failure that says whether a retry can help.
import { Context } from '@temporalio/activity';
import { TemporalFailure } from '@temporalio/common';
import OpenAI from 'openai';
import type {
  ChatCompletion,
  ChatCompletionCreateParamsNonStreaming,
} from 'openai/resources/chat/completions';
import type { ModelConfig } from '../core/config.js';
import {
  failure,
  FailureType,
  httpFailure,
  isRetryableStatus,
  notAChatCompletion,
} from '../core/failures.js';
import { redact } from '../core/redact.js';

/** The fields of a model config that identify its endpoint; nothing secret. */
export type EndpointConfig = Pick<ModelConfig, 'baseURL' | 'apiKeyEnv' | 'requestTimeoutSeconds'>;

const clients = new Map<string, OpenAI>();

/** Every API key this process has read: removed from any endpoint text before it is recorded anywhere. */
const knownSecrets = new Set<string>();

/**
 * Text that came from an endpoint (an error body, a job's error, an event), safe to put in a Temporal
 * failure, a log line or the CLI: every API key this process knows and anything that looks like a
 * credential redacted, cut to a few KB (`core/redact.ts`).
 */
export function redactEndpointText(text: string): string {
  return redact(text, knownSecrets);
}

/** The local engine's bearer token (engine/wcse_engine/security.py): sent when set, optional when not. */
export const ENGINE_API_KEY_ENV = 'WCSE_ENGINE_API_KEY';

export function apiKeyFor(endpoint: Pick<ModelConfig, 'apiKeyEnv'>): string {
  if (!endpoint.apiKeyEnv) return 'not-needed';
  const key = process.env[endpoint.apiKeyEnv];
  // An engine started without a token accepts any request from this machine.
  if (!key && endpoint.apiKeyEnv === ENGINE_API_KEY_ENV) return 'not-needed';
  if (key) knownSecrets.add(key);
  if (!key) {
    throw failure(
      FailureType.MissingApiKey,
      `environment variable ${endpoint.apiKeyEnv} (the API key for ${'baseURL' in endpoint ? String(endpoint.baseURL) : 'this endpoint'}) is not set on this worker`,
    );
  }
  return key;
}

export function clientFor(endpoint: EndpointConfig): OpenAI {
  const id = `${endpoint.baseURL}\u0000${endpoint.apiKeyEnv ?? ''}\u0000${endpoint.requestTimeoutSeconds}`;
  let client = clients.get(id);
  if (!client) {
    client = new OpenAI({
      baseURL: endpoint.baseURL,
      apiKey: apiKeyFor(endpoint),
      // Temporal owns retries: its attempts are durable and visible in history.
      maxRetries: 0,
      timeout: endpoint.requestTimeoutSeconds * 1000,
    });
    clients.set(id, client);
  }
  return client;
}

/**
 * Callbacks to run when a signal aborts, behind one listener per signal. An activity's signal is shared by
 * every request of the activity, and EventTarget's addEventListener scans the listeners already there, so
 * a listener per request would cost O(listeners) per request; this costs O(1) and keeps nothing of a
 * request once it is done.
 */
const abortCallbacks = new WeakMap<AbortSignal, Set<() => void>>();

/** Runs `callback` once when `signal` aborts (the caller checks `signal.aborted` first); returns its removal. */
function onAbort(signal: AbortSignal, callback: () => void): () => void {
  let callbacks = abortCallbacks.get(signal);
  if (!callbacks) {
    const registered = new Set<() => void>();
    callbacks = registered;
    abortCallbacks.set(signal, registered);
    signal.addEventListener(
      'abort',
      () => {
        abortCallbacks.delete(signal);
        for (const run of [...registered]) run();
        registered.clear();
      },
      { once: true },
    );
  }
  const own = callbacks;
  own.add(callback);
  return () => own.delete(callback);
}

/**
 * Waits for `work`, unless the signal aborts first: then `undo` takes the wait back and this rejects with
 * the signal's reason (the activity's CancelledFailure).
 */
async function unlessAborted<T>(
  work: Promise<T>,
  signal: AbortSignal | undefined,
  undo: () => void,
): Promise<T> {
  if (!signal) return work;
  if (signal.aborted) {
    undo();
    throw signal.reason;
  }
  let stopListening!: () => void;
  const aborted = new Promise<never>((_, reject) => {
    stopListening = onAbort(signal, () => {
      undo();
      reject(signal.reason);
    });
  });
  try {
    return await Promise.race([work, aborted]);
  } finally {
    stopListening();
  }
}

/** A waiter's place in a Semaphore's queue: lower `priority` first, then first come first served. */
interface Waiter {
  priority: number;
  arrival: number;
  grant: () => void;
}

/**
 * A counting semaphore: at most `limit` holders at once. Waiters are served by priority (lower first), and
 * first come first served among equal priorities (all of them, when no priority is given).
 */
export class Semaphore {
  private active = 0;
  /** Sorted by (priority, arrival). */
  private readonly waiting: Waiter[] = [];
  private arrivals = 0;
  constructor(private limit: number) {}

  setLimit(limit: number): void {
    this.limit = limit;
    this.drain();
  }

  /** Holders now, and callers waiting for a place. */
  get holders(): number {
    return this.active;
  }
  get waiters(): number {
    return this.waiting.length;
  }

  /**
   * Resolves with a release function (calling it twice releases once) when a place is free; rejects
   * with the signal's reason if the signal aborts first, leaving the queue as if it had never waited.
   * `priority` (default: +Infinity, i.e. plain first come first served) orders the waiters: lower first.
   */
  async acquire(signal?: AbortSignal, priority = Number.POSITIVE_INFINITY): Promise<() => void> {
    signal?.throwIfAborted();
    if (this.active < this.limit) this.active++;
    else {
      let granted = false;
      let grant!: () => void;
      const turn = new Promise<void>((resolve) => {
        grant = () => {
          granted = true;
          resolve();
        };
      });
      const waiter: Waiter = { priority, arrival: this.arrivals++, grant };
      this.enqueue(waiter);
      try {
        await unlessAborted(turn, signal, () => {
          const index = this.waiting.indexOf(waiter);
          if (index >= 0) this.waiting.splice(index, 1);
        });
      } catch (error) {
        if (granted) this.release();
        throw error;
      }
    }
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.release();
    };
  }

  /** Inserts behind every waiter of lower or equal priority (binary search: the queue stays sorted). */
  private enqueue(waiter: Waiter): void {
    let low = 0;
    let high = this.waiting.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (this.waiting[middle].priority <= waiter.priority) low = middle + 1;
      else high = middle;
    }
    this.waiting.splice(low, 0, waiter);
  }

  private release(): void {
    this.active--;
    this.drain();
  }

  private drain(): void {
    while (this.active < this.limit && this.waiting.length) {
      this.active++;
      this.waiting.shift()!.grant();
    }
  }
}

/** A token bucket refilled continuously: `perMinute` units per minute, bursts up to one minute's worth. */
export class RateLimiter {
  private available: number;
  private updatedAt = Date.now();
  constructor(private readonly perMinute: number) {
    this.available = perMinute;
  }

  /**
   * Waits until `units` are available and takes them (a request larger than a minute's worth takes a
   * whole minute's worth). Rejects with the signal's reason if the signal aborts while waiting.
   */
  async take(units: number, signal?: AbortSignal): Promise<void> {
    const wanted = Math.min(units, this.perMinute);
    for (;;) {
      signal?.throwIfAborted();
      const now = Date.now();
      this.available = Math.min(
        this.perMinute,
        this.available + ((now - this.updatedAt) / 60_000) * this.perMinute,
      );
      this.updatedAt = now;
      if (this.available >= wanted) {
        this.available -= wanted;
        return;
      }
      const waitMs = Math.max(5, ((wanted - this.available) / this.perMinute) * 60_000);
      let timer: NodeJS.Timeout | undefined;
      const slept = new Promise<void>((resolve) => (timer = setTimeout(resolve, waitMs)));
      await unlessAborted(slept, signal, () => clearTimeout(timer));
    }
  }
}

interface EndpointLimits {
  concurrency: Semaphore;
  requests?: RateLimiter;
  tokens?: RateLimiter;
}

const limits = new Map<string, EndpointLimits>();

/** Limits shared by every activity of this worker process that talks to the same model endpoint. */
export function limitsFor(model: ModelConfig): EndpointLimits {
  const id = `${model.baseURL}\u0000${model.model}`;
  let entry = limits.get(id);
  if (!entry) {
    entry = {
      concurrency: new Semaphore(model.concurrency),
      requests: model.requestsPerMinute ? new RateLimiter(model.requestsPerMinute) : undefined,
      tokens: model.tokensPerMinute ? new RateLimiter(model.tokensPerMinute) : undefined,
    };
    limits.set(id, entry);
  } else {
    entry.concurrency.setLimit(model.concurrency);
  }
  return entry;
}

/**
 * Endpoints (baseURL + model) whose usage undercounts a multi-choice response: llama.cpp's llama-server
 * reports choice 0's tokens only (core/usage.ts). This worker sends them one choice per request, so their
 * usage is exact.
 */
const undercountingEndpoints = new Set<string>();
/** Per baseURL: the one look at its model list that tells a llama-server before any n > 1 request. */
const modelListChecks = new Map<string, Promise<void>>();

function endpointKey(model: Pick<ModelConfig, 'baseURL' | 'model'>): string {
  return `${model.baseURL}\u0000${model.model}`;
}

/** Choices to ask for in one request when `wanted` are still needed: 1 where `n` is unsupported or undercounted. */
export function choicesPerRequest(model: ModelConfig, wanted: number): number {
  return model.supportsN && !undercountingEndpoints.has(endpointKey(model))
    ? Math.min(wanted, model.maxN)
    : 1;
}

/** From now on (in this worker), `model` gets one choice per request: its usage undercounted n choices. */
export function noteChoiceUndercount(model: ModelConfig): void {
  undercountingEndpoints.add(endpointKey(model));
}

/**
 * Before the first multi-choice request to an endpoint, one `GET /models` (free: nothing is generated):
 * a llama-server (models `owned_by: "llamacpp"`) gets one choice per request from the start. Any error
 * leaves things as they are; `chargedUsage` still catches an undercount in the responses.
 */
export async function checkChoiceUsage(model: ModelConfig, signal: AbortSignal): Promise<void> {
  if (!model.supportsN || model.maxN < 2) return;
  let check = modelListChecks.get(model.baseURL);
  if (!check) {
    check = (async () => {
      try {
        const page = await clientFor(model).models.list({ signal, timeout: 10_000 });
        if (page.data.some((entry) => (entry as { owned_by?: unknown }).owned_by === 'llamacpp')) {
          for (const entry of page.data)
            undercountingEndpoints.add(endpointKey({ ...model, model: entry.id }));
          undercountingEndpoints.add(endpointKey(model));
        }
      } catch {
        modelListChecks.delete(model.baseURL);
      }
    })();
    modelListChecks.set(model.baseURL, check);
  }
  await check;
}

export interface ChatCall {
  /** What the call is for, named in failure messages: e.g. "se model m at http://host/v1". */
  what: string;
  /** The activity's cancellation signal: aborts the request and any wait for the limits. */
  signal: AbortSignal;
  /** An upper bound on the request's prompt tokens, for the tokens-per-minute limit. */
  promptTokensBound: number;
  /**
   * Asked when the call has its place and again when it has its share of the rate limits, before
   * anything is sent: false skips the request (`callChat` resolves to null). Lets a batch stop sending
   * once one of its requests has failed.
   */
  stillWanted?: () => boolean;
  /**
   * Awaited just before the request goes out, after every wait: from here on it may be billed (sampling
   * logs the send here, so a response lost to a crash is counted as paid).
   */
  beforeSend?: () => Promise<void>;
  /** The activity attempt (default: the current activity's), for failures retried only a few times. */
  attempt?: number;
  /**
   * Where the call queues for the endpoint's concurrency: lower first (default: a `workTicket()` taken
   * now). An activity that takes one ticket when it starts and passes it with each of its calls is served
   * before work that started after it: the batches of a sampling round then finish one after another
   * rather than all at once, so the endpoint never idles while the next batches are being scheduled.
   */
  priority?: number;
}

let tickets = 0;

/** A number larger than every earlier ticket of this process: the `priority` of work starting now. */
export function workTicket(): number {
  return ++tickets;
}

export interface ChatResponse {
  data: ChatCompletion;
  /** The endpoint's request id (`x-request-id`), else the completion's id. */
  requestId: string | null;
}

/**
 * One chat completion request, the only way activities call a chat endpoint: waits for a place under the
 * model's concurrency limit, then for its share of requests and tokens per minute (the worst case:
 * `promptTokensBound` plus `max_tokens` per choice), sends the request, and checks that the answer has a
 * choices array. Every error comes out as a Temporal failure (`toTemporalFailure`), or as the activity's
 * CancelledFailure once the signal has aborted. The caller saves what it paid for.
 */
export async function callChat(
  model: ModelConfig,
  body: ChatCompletionCreateParamsNonStreaming,
  call: ChatCall,
): Promise<ChatResponse | null> {
  const client = clientFor(model);
  const { concurrency, requests, tokens } = limitsFor(model);
  const wanted = () => !call.stillWanted || call.stillWanted();
  let release: (() => void) | null = null;
  let stopListening: (() => void) | null = null;
  try {
    release = await concurrency.acquire(call.signal, call.priority ?? workTicket());
    if (!wanted()) return null;
    await requests?.take(1, call.signal);
    await tokens?.take(call.promptTokensBound + (body.n ?? 1) * (body.max_tokens ?? 0), call.signal);
    if (!wanted()) return null;
    await call.beforeSend?.();
    // The request gets a signal of its own, aborted with the activity's: the client leaves its listener on
    // the signal it is given, which would otherwise pile up on the activity's signal, one per request.
    call.signal.throwIfAborted();
    const request = new AbortController();
    stopListening = onAbort(call.signal, () => request.abort(call.signal.reason));
    const { data, request_id } = await client.chat.completions
      .create(body, { signal: request.signal })
      .withResponse();
    const notCompletion = notAChatCompletionReason(data);
    if (notCompletion !== null) {
      throw notAChatCompletion(
        redactEndpointText(`${call.what}: HTTP 200 but ${notCompletion}`),
        call.attempt ?? currentAttempt(),
      );
    }
    return { data, requestId: request_id ?? data.id ?? null };
  } catch (error) {
    if (call.signal.aborted && call.signal.reason instanceof Error) throw call.signal.reason;
    throw toTemporalFailure(error, call.what);
  } finally {
    stopListening?.();
    release?.();
  }
}

/**
 * Why a 200 answer is not a chat completion (null when it is one): the openai client hands back a
 * non-JSON body (an HTML page from a proxy or a wrong baseURL) as a string, and JSON as it came.
 */
function notAChatCompletionReason(data: unknown): string | null {
  if (typeof data === 'string') {
    return `the body is not JSON (a web page or a proxy's answer?): ${JSON.stringify(data.slice(0, 300))}`;
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data)) {
    return `the body is not a JSON object: ${JSON.stringify(data)?.slice(0, 300)}`;
  }
  const record = data as Record<string, unknown>;
  if (Array.isArray(record.choices)) return null;
  if ('error' in record) {
    return `the body is an error object, not a chat completion: ${JSON.stringify(record.error)?.slice(0, 1000)}`;
  }
  return `the body has no choices array (keys: ${Object.keys(record).slice(0, 20).join(', ')})`;
}

/** The current activity's attempt, or 1 outside an activity. */
function currentAttempt(): number {
  try {
    return Context.current().info.attempt;
  } catch {
    return 1;
  }
}

/**
 * Turns an error from the openai client into a Temporal failure: retryable (with the server's
 * Retry-After as the next delay) or not, with a message that names the endpoint and model. Temporal
 * failures (already mapped, or a cancellation) pass through.
 */
export function toTemporalFailure(error: unknown, what: string): Error {
  if (error instanceof TemporalFailure) return error;
  if (error instanceof OpenAI.APIError && error.status !== undefined) {
    const status = error.status;
    // The body is the endpoint's text: it may echo the key or be megabytes long.
    const detail = `${what}: HTTP ${status}: ${redactEndpointText(error.message)}`;
    if (isRetryableStatus(status)) return httpFailure(status, detail, retryAfterMs(error.headers));
    const hint =
      status === 401 || status === 403
        ? ' (check the API key named by apiKeyEnv)'
        : status === 404
          ? ' (check the model id and baseURL)'
          : '';
    return httpFailure(status, detail + hint);
  }
  if (error instanceof OpenAI.APIConnectionTimeoutError) {
    return failure(FailureType.Timeout, `${what}: request timed out`);
  }
  if (error instanceof OpenAI.APIConnectionError) {
    return failure(FailureType.ConnectionError, `${what}: ${redactEndpointText(error.message)}`);
  }
  const message = error instanceof Error ? error.message : String(error);
  return failure(FailureType.MalformedResponse, `${what}: ${redactEndpointText(message)}`);
}

/**
 * How long the server asked us to wait, in ms: `retry-after-ms`, else `retry-after` in seconds or as an
 * HTTP date; undefined when it said nothing usable.
 */
export function retryAfterMs(headers: Headers | undefined, now = Date.now()): number | undefined {
  const value = headers?.get('retry-after-ms') ?? null;
  if (value !== null && value.trim() !== '' && Number.isFinite(Number(value)))
    return Math.max(0, Number(value));
  const seconds = headers?.get('retry-after') ?? null;
  if (seconds === null || seconds.trim() === '') return undefined;
  if (Number.isFinite(Number(seconds))) return Math.max(0, Number(seconds) * 1000);
  const date = Date.parse(seconds);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}
