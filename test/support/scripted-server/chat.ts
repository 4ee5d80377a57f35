/**
 * `POST /v1/chat/completions`: validation, faults, latency, holds, the scripts' answers and their exact accounting.
 *
 * A request is counted `received` the moment it arrives and ends exactly once (`call.done`): served, answered by
 * its fault, rejected, errored (the script threw), or aborted when the client goes away first. `served` is counted in
 * the same synchronous step that checks the hold limit and writes the answer, so `holdAfter(k)` serves exactly k.
 */
import { faultAnswer, takeFault } from './faults.js';
import {
  errorBody,
  nowSeconds,
  parseJsonObject,
  readBody,
  writeRaw,
  type Exchange,
  type Route,
} from './http.js';
import { modelStats, notify, type ChatCall, type ServerState } from './state.js';
import { contentText, countWords, lastUserText } from './text.js';
import type { ChatMessage, Fault, ModelScript, RequestRecord } from './types.js';

export const chatRoutes: Route[] = [{ method: 'POST', path: '/v1/chat/completions', handler: handleChat }];

/** A validation failure: the OpenAI-shaped error the request gets. */
interface Refusal {
  status: number;
  message: string;
  code?: string;
  param?: string;
}

function handleChat(state: ServerState, ex: Exchange): void {
  state.stats.received++;
  state.stats.inFlight++;
  const call: ChatCall = {
    res: ex.res,
    requestId: ex.requestId,
    receivedAt: Date.now(),
    done: false,
    held: false,
  };
  ex.res.on('close', () => onClientGone(state, call));
  readBody(ex.req).then(
    (body) => onBody(state, call, body),
    () => {}, // the client went away: 'close' counts the request aborted
  );
  notify(state);
}

function onClientGone(state: ServerState, call: ChatCall): void {
  if (call.done) return;
  call.done = true;
  state.stats.inFlight--;
  state.stats.aborted++;
  if (call.timer) clearTimeout(call.timer);
  if (call.held) {
    call.held = false;
    state.stats.held--;
    const i = state.held.indexOf(call);
    if (i !== -1) state.held.splice(i, 1);
  }
  if (call.model && state.models.has(call.model)) modelStats(state, call.model).aborted++;
  if (call.record) call.record.status = 'aborted';
  notify(state);
}

function onBody(state: ServerState, call: ChatCall, raw: Buffer): void {
  if (call.done) return;
  const parsed = parseJsonObject(raw);
  if ('error' in parsed) {
    refuse(state, call, { status: 400, message: parsed.error });
    return;
  }
  const body = parsed.value;
  const model = typeof body.model === 'string' ? body.model : '';
  const script = state.models.get(model);
  call.body = body;
  call.model = model;
  if (script) modelStats(state, model).received++;
  if (state.recordRequests) {
    call.record = requestRecord(call, body, model);
    state.stats.requests.push(call.record);
  }
  const refusal = refusalOf(body, model, script);
  if (refusal) {
    refuse(state, call, refusal);
    return;
  }
  call.script = script;
  // Faults apply to valid requests only, so a fault is never wasted on a request the endpoint refuses anyway.
  const fault = takeFault(state, model);
  if (fault) applyFault(state, call, model, fault);
  else afterLatency(state, call);
}

function requestRecord(call: ChatCall, body: Record<string, unknown>, model: string): RequestRecord {
  const n = body.n ?? 1;
  return {
    requestId: call.requestId,
    model,
    lastUserMessage: lastUserText(
      Array.isArray(body.messages) ? (body.messages as ChatMessage[]) : undefined,
    ),
    n: typeof n === 'number' ? n : NaN,
    seed: typeof body.seed === 'number' ? body.seed : undefined,
    temperature: typeof body.temperature === 'number' ? body.temperature : undefined,
    maxTokens: maxTokensOf(body),
    status: 'pending',
    receivedAt: call.receivedAt,
  };
}

/** Why the endpoint refuses this body, checked in the order a real endpoint reports them; `undefined` if valid. */
function refusalOf(
  body: Record<string, unknown>,
  model: string,
  script: ModelScript | undefined,
): Refusal | undefined {
  const n = body.n ?? 1;
  if (!model) return { status: 400, message: 'You must provide a model parameter.' };
  if (!script) {
    const message = `The model \`${model}\` does not exist`;
    return { status: 404, message, code: 'model_not_found', param: 'model' };
  }
  if (!Array.isArray(body.messages) || body.messages.length === 0) {
    return { status: 400, message: "'messages' must be a non-empty array.", param: 'messages' };
  }
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > 128) {
    const message = `Invalid value for 'n': expected an integer between 1 and 128.`;
    return { status: 400, message, code: 'invalid_value', param: 'n' };
  }
  if (n > 1 && script.supportsN === false) {
    const message = `Unsupported value: 'n' must be 1 for model ${model} (got ${n}).`;
    return { status: 400, message, code: 'unsupported_value', param: 'n' };
  }
  if (body.stream === true) {
    return { status: 400, message: 'Streaming is not supported by the scripted server.', param: 'stream' };
  }
  return undefined;
}

function refuse(state: ServerState, call: ChatCall, r: Refusal): void {
  const body = errorBody(r.message, 'invalid_request_error', r.code ?? null, r.param ?? null);
  finishChat(state, call, 'rejected', r.status, body);
}

function applyFault(state: ServerState, call: ChatCall, model: string, fault: Fault): void {
  state.stats.faulted++;
  modelStats(state, model).faulted++;
  if (call.record) call.record.fault = fault.kind;
  const answer = faultAnswer(state, fault, model);
  if (answer) {
    finishChat(state, call, 'faulted', answer.status, answer.body, answer.headers);
  } else if (fault.kind === 'hang' && fault.ms !== undefined) {
    call.timer = setTimeout(() => {
      call.timer = undefined;
      afterLatency(state, call);
    }, fault.ms);
  }
  // A hang without `ms` never answers: 'close' counts the request aborted when the client gives up.
}

/** Ends a request with a non-served outcome. Returns false if it had already ended. */
function finishChat(
  state: ServerState,
  call: ChatCall,
  outcome: 'faulted' | 'rejected' | 'error',
  status: number,
  body: string,
  headers?: Record<string, string>,
): boolean {
  if (call.done) return false;
  call.done = true;
  state.stats.inFlight--;
  if (outcome === 'rejected') {
    state.stats.rejected++;
    if (call.model && state.models.has(call.model)) modelStats(state, call.model).rejected++;
  } else if (outcome === 'error') state.stats.errors++;
  if (call.record) {
    call.record.status = outcome;
    call.record.httpStatus = status;
  }
  writeRaw(call, status, body, headers);
  notify(state);
  return true;
}

function afterLatency(state: ServerState, call: ChatCall): void {
  const latency = call.script?.latencyMs ?? 0;
  if (latency > 0) {
    call.timer = setTimeout(() => {
      call.timer = undefined;
      serve(state, call, false);
    }, latency);
  } else serve(state, call, false);
}

/** Serve the oldest `count` held requests (all without `count`, which also stops holding). */
export function release(state: ServerState, count?: number): void {
  if (count === undefined) {
    state.holdLimit = undefined;
    state.holdPredicate = undefined;
  }
  const toServe = state.held.splice(0, count ?? state.held.length);
  for (const call of toServe) serve(state, call, true);
  notify(state);
}

function serve(state: ServerState, call: ChatCall, bypassHold: boolean): void {
  if (call.done) return;
  const { stats } = state;
  const heldByLimit = state.holdLimit !== undefined && stats.served >= state.holdLimit;
  const heldByPredicate =
    state.holdPredicate !== undefined &&
    call.record !== undefined &&
    state.holdPredicate({ model: call.record.model, lastUserMessage: call.record.lastUserMessage });
  if (!bypassHold && (heldByLimit || heldByPredicate)) {
    call.held = true;
    stats.held++;
    state.held.push(call);
    if (call.record) call.record.status = 'held';
    notify(state);
    return;
  }
  if (call.held) {
    call.held = false;
    stats.held--;
  }
  let completion: Completion;
  try {
    completion = runScript(state, call);
  } catch (e) {
    const message = `Scripted model ${call.model} threw: ${(e as Error).message}`;
    finishChat(state, call, 'error', 500, errorBody(message, 'server_error', null));
    return;
  }
  call.done = true;
  countServed(state, call, completion);
  const reported = reportedUsage(completion, call.script?.reportUsage ?? 'exact');
  writeRaw(call, 200, JSON.stringify(completionBody(state, call.model as string, completion, reported)));
  notify(state);
}

interface Completion {
  n: number;
  choices: unknown[];
  promptTokens: number;
  completionTokens: number;
  /** Completion tokens of choice 0 alone. */
  firstChoiceTokens: number;
}

/** Asks the model's script for each of the n choices (`call` passed validation). */
function runScript(state: ServerState, call: ChatCall): Completion {
  const body = call.body as Record<string, unknown>;
  const model = call.model as string;
  const script = call.script as ModelScript;
  const messages = body.messages as ChatMessage[];
  const n = (body.n ?? 1) as number;
  let promptTokens = 0;
  for (const message of messages) promptTokens += countWords(contentText(message?.content)) + 4;
  const context = {
    model,
    messages,
    lastUserMessage: lastUserText(messages),
    n,
    seed: typeof body.seed === 'number' ? body.seed : undefined,
    requestIndex: state.servedPerModel.get(model) ?? 0,
    maxTokens: maxTokensOf(body),
    temperature: typeof body.temperature === 'number' ? body.temperature : undefined,
    topP: typeof body.top_p === 'number' ? body.top_p : undefined,
    stop: body.stop as string | string[] | undefined,
  };
  const choices: unknown[] = new Array(n);
  let completionTokens = 0;
  let firstChoiceTokens = 0;
  for (let i = 0; i < n; i++) {
    const c = script.respond({ ...context, choiceIndex: i });
    const tokens = c.completionTokens ?? Math.max(1, countWords(c.content));
    completionTokens += tokens;
    if (i === 0) firstChoiceTokens = tokens;
    choices[i] = {
      index: i,
      message: { role: 'assistant', content: c.content, refusal: null },
      logprobs: null,
      finish_reason: c.finishReason ?? 'stop',
    };
  }
  return { n, choices, promptTokens, completionTokens, firstChoiceTokens };
}

function countServed(state: ServerState, call: ChatCall, c: Completion): void {
  const { stats } = state;
  const model = call.model as string;
  stats.inFlight--;
  stats.served++;
  stats.servedChoices += c.n;
  stats.usage.promptTokens += c.promptTokens;
  stats.usage.completionTokens += c.completionTokens;
  stats.usage.totalTokens += c.promptTokens + c.completionTokens;
  state.servedPerModel.set(model, (state.servedPerModel.get(model) ?? 0) + 1);
  const perModel = modelStats(state, model);
  perModel.served++;
  perModel.servedChoices += c.n;
  perModel.promptTokens += c.promptTokens;
  perModel.completionTokens += c.completionTokens;
  if (call.record) {
    call.record.status = 'served';
    call.record.httpStatus = 200;
  }
}

/** The usage a response reports under `ModelScript.reportUsage` (undefined: no usage object). */
function reportedUsage(
  c: Completion,
  mode: NonNullable<ModelScript['reportUsage']>,
): { prompt: number; completion: number; timings: boolean } | undefined {
  switch (mode) {
    case 'exact':
      return { prompt: c.promptTokens, completion: c.completionTokens, timings: false };
    case 'zero':
      return { prompt: 0, completion: 0, timings: false };
    case 'none':
      return undefined;
    case 'first-choice':
      return { prompt: c.promptTokens, completion: c.firstChoiceTokens, timings: true };
  }
}

function completionBody(
  state: ServerState,
  model: string,
  c: Completion,
  reported: ReturnType<typeof reportedUsage>,
): unknown {
  return {
    id: `chatcmpl-${++state.lastId.completion}`,
    object: 'chat.completion',
    created: nowSeconds(),
    model,
    choices: c.choices,
    ...(reported
      ? {
          usage: {
            prompt_tokens: reported.prompt,
            completion_tokens: reported.completion,
            total_tokens: reported.prompt + reported.completion,
          },
        }
      : {}),
    ...(reported?.timings
      ? { timings: { prompt_n: reported.prompt, predicted_n: reported.completion } }
      : {}),
    system_fingerprint: null,
  };
}

function maxTokensOf(body: Record<string, unknown>): number | undefined {
  if (typeof body.max_tokens === 'number') return body.max_tokens;
  if (typeof body.max_completion_tokens === 'number') return body.max_completion_tokens;
  return undefined;
}
