/**
 * Fault injection: a FIFO queue of faults (`injectFaults`) and an optional seeded random rate (`setFaultRate`),
 * consumed by valid chat requests. This module picks the fault and builds the answer it stands for; `chat.ts`
 * writes that answer (or, for `hang`, delays or drops the request) and does the accounting.
 */
import { errorBody, nowSeconds } from './http.js';
import type { ServerState } from './state.js';
import type { Fault, FaultRate, FaultStatus } from './types.js';
import { mulberry32 } from '../mulberry32.js';

/** What a fault answers in place of a completion. */
export interface FaultAnswer {
  status: number;
  body: string;
  headers?: Record<string, string>;
}

const STATUS_ERRORS: Record<FaultStatus, { type: string; code: string | null; message: string }> = {
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

export function queueFaults(state: ServerState, faults: Fault[]): void {
  for (const fault of faults) state.faultQueue.push({ fault, remaining: fault.times ?? 1 });
}

export function setFaultRate(state: ServerState, rate: FaultRate | undefined): void {
  state.faultRate = rate ? { rate, rng: mulberry32(rate.seed ?? 1) } : undefined;
}

/** The fault the next valid request of `model` consumes: the first matching queued one, else one drawn by rate. */
export function takeFault(state: ServerState, model: string): Fault | undefined {
  const queue = state.faultQueue;
  for (let i = 0; i < queue.length; i++) {
    const q = queue[i];
    if (q.fault.model !== undefined && q.fault.model !== model) continue;
    q.remaining--;
    if (q.remaining <= 0) queue.splice(i, 1);
    return q.fault;
  }
  const byRate = state.faultRate;
  if (byRate && (byRate.rate.model === undefined || byRate.rate.model === model)) {
    if (byRate.rng() < byRate.rate.fraction) {
      return { kind: 'status', status: byRate.rate.status, retryAfterSeconds: byRate.rate.retryAfterSeconds };
    }
  }
  return undefined;
}

/** The answer a fault gives instead of a completion; `undefined` for `hang`, which gives none by itself. */
export function faultAnswer(state: ServerState, fault: Fault, model: string): FaultAnswer | undefined {
  switch (fault.kind) {
    case 'status': {
      const def = STATUS_ERRORS[fault.status] ?? STATUS_ERRORS[500];
      const headers: Record<string, string> = {};
      if (fault.status === 429 || fault.retryAfterSeconds !== undefined) {
        const secs = fault.retryAfterSeconds ?? 0;
        headers['retry-after'] = String(secs);
        headers['retry-after-ms'] = String(Math.round(secs * 1000));
      }
      return {
        status: fault.status,
        body: errorBody(fault.message ?? def.message, def.type, def.code),
        headers,
      };
    }
    case 'malformed-json':
      return {
        status: 200,
        body: `{"id":"chatcmpl-${++state.lastId.completion}","object":"chat.completion","choices":[{`,
      };
    case 'empty-choices':
      return {
        status: 200,
        body: JSON.stringify({
          id: `chatcmpl-${++state.lastId.completion}`,
          object: 'chat.completion',
          created: nowSeconds(),
          model,
          choices: [],
          usage: { prompt_tokens: 0, completion_tokens: 0, total_tokens: 0 },
        }),
      };
    case 'not-a-completion':
      return fault.body === 'html'
        ? {
            status: 200,
            body: '<!doctype html><html><body><h1>Welcome to nginx!</h1></body></html>',
            headers: { 'content-type': 'text/html' },
          }
        : {
            status: 200,
            body: JSON.stringify({ error: { message: 'upstream model is loading', type: 'server_error' } }),
          };
    case 'hang':
      return undefined;
  }
}
