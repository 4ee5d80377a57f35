// Talking to an OpenAI-compatible endpoint from activities: one client per endpoint, keys read from the
// environment here (never from workflow inputs), bounded concurrency and rate limits per worker process,
// and HTTP failures turned into Temporal failures that say whether a retry can help.
import { ApplicationFailure } from '@temporalio/common';
import OpenAI from 'openai';
import type { ModelConfig } from '../core/config.js';

/** The fields of a model config that identify its endpoint; nothing secret. */
export type EndpointConfig = Pick<ModelConfig, 'baseURL' | 'apiKeyEnv' | 'requestTimeoutSeconds'>;

const clients = new Map<string, OpenAI>();

export function apiKeyFor(endpoint: Pick<ModelConfig, 'apiKeyEnv'>): string {
  if (!endpoint.apiKeyEnv) return 'not-needed';
  const key = process.env[endpoint.apiKeyEnv];
  if (!key) {
    throw ApplicationFailure.create({
      type: 'MissingApiKey',
      message: `environment variable ${endpoint.apiKeyEnv} (the API key for ${'baseURL' in endpoint ? String(endpoint.baseURL) : 'this endpoint'}) is not set on this worker`,
      nonRetryable: true,
    });
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

/** A counting semaphore: at most `limit` holders at once. */
export class Semaphore {
  private active = 0;
  private readonly waiting: Array<() => void> = [];
  constructor(private limit: number) {}

  setLimit(limit: number): void {
    this.limit = limit;
    this.drain();
  }

  async acquire(): Promise<() => void> {
    if (this.active >= this.limit) await new Promise<void>((resolve) => this.waiting.push(resolve));
    else this.active++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.active--;
      this.drain();
    };
  }

  private drain(): void {
    while (this.active < this.limit && this.waiting.length) {
      this.active++;
      this.waiting.shift()!();
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

  async take(units: number): Promise<void> {
    const wanted = Math.min(units, this.perMinute);
    for (;;) {
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
      const waitMs = ((wanted - this.available) / this.perMinute) * 60_000;
      await new Promise((resolve) => setTimeout(resolve, Math.max(5, waitMs)));
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

const RETRYABLE_STATUS = new Set([408, 409, 425, 429, 500, 502, 503, 504]);

/**
 * Turns an error from the openai client into a Temporal failure: retryable (with the server's
 * Retry-After as the next delay) or not, with a message that names the endpoint and model.
 */
export function toTemporalFailure(error: unknown, what: string): Error {
  if (error instanceof ApplicationFailure) return error;
  if (error instanceof OpenAI.APIError && error.status !== undefined) {
    const status = error.status;
    const detail = `${what}: HTTP ${status}: ${error.message}`;
    if (RETRYABLE_STATUS.has(status) || status >= 500) {
      return ApplicationFailure.create({
        type: `Http${status}`,
        message: detail,
        nextRetryDelay: retryAfterMs(error.headers),
      });
    }
    const hint =
      status === 401 || status === 403
        ? ' (check the API key named by apiKeyEnv)'
        : status === 404
          ? ' (check the model id and baseURL)'
          : '';
    return ApplicationFailure.create({ type: `Http${status}`, message: detail + hint, nonRetryable: true });
  }
  if (error instanceof OpenAI.APIConnectionTimeoutError) {
    return ApplicationFailure.create({ type: 'Timeout', message: `${what}: request timed out` });
  }
  if (error instanceof OpenAI.APIConnectionError) {
    return ApplicationFailure.create({ type: 'ConnectionError', message: `${what}: ${error.message}` });
  }
  const message = error instanceof Error ? error.message : String(error);
  return ApplicationFailure.create({ type: 'MalformedResponse', message: `${what}: ${message}` });
}

function retryAfterMs(headers: Headers | undefined): number | undefined {
  const value = headers?.get('retry-after-ms') ?? null;
  if (value !== null && Number.isFinite(Number(value))) return Math.max(0, Number(value));
  const seconds = headers?.get('retry-after') ?? null;
  if (seconds === null) return undefined;
  if (Number.isFinite(Number(seconds))) return Math.max(0, Number(seconds) * 1000);
  const date = Date.parse(seconds);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}
