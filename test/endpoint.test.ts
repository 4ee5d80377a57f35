// The endpoint call path in pieces: Retry-After parsing, the failure mapping and types, the semaphore and
// the rate limiter (on fake time), heartbeats by time, and callChat against the scripted endpoint.
import type { Context } from '@temporalio/activity';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import OpenAI from 'openai';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import type { ModelConfig } from '../core/config.js';
import {
  failure,
  FailureType,
  httpFailure,
  NON_RETRYABLE_TYPES,
  rootFailureType,
  type FailureTypeName,
} from '../core/failures.js';
import { PlanError } from '../core/plan.js';
import { DatasetError } from '../activities/problems.js';
import { heartbeatEvery, heartbeatIntervalMs } from '../activities/heartbeat.js';
import { openStore, toJsonl } from '../activities/store.js';
import { loadVerifiedSamples, verifySource } from '../activities/verify.js';
import { batchKey, PROBLEMS_KEY } from '../core/layout.js';
import { EMPTY_LEDGER } from '../core/records.js';
import { writeFinishedBatch } from '../activities/sampling.js';
import { callChat, RateLimiter, retryAfterMs, Semaphore, toTemporalFailure } from '../activities/endpoint.js';
import { validModel } from './support/model-config.js';
import { startScriptedServer, type ScriptedServer } from './support/scripted-server.js';

process.env.WCSE_TEST_API_KEY = 'sk-test-endpoint';

describe('retryAfterMs', () => {
  const now = Date.parse('2025-01-01T00:00:00Z');
  const headers = (values: Record<string, string>) => new Headers(values);

  it('prefers retry-after-ms, in milliseconds', () => {
    expect(retryAfterMs(headers({ 'retry-after-ms': '1500', 'retry-after': '9' }), now)).toBe(1500);
  });

  it('reads retry-after in seconds, fractions included', () => {
    expect(retryAfterMs(headers({ 'retry-after': '2' }), now)).toBe(2000);
    expect(retryAfterMs(headers({ 'retry-after': '0.25' }), now)).toBe(250);
  });

  it('reads retry-after as an HTTP date, never negative', () => {
    expect(retryAfterMs(headers({ 'retry-after': 'Wed, 01 Jan 2025 00:00:05 GMT' }), now)).toBe(5000);
    expect(retryAfterMs(headers({ 'retry-after': 'Tue, 31 Dec 2024 23:59:00 GMT' }), now)).toBe(0);
  });

  it('ignores garbage and absent headers', () => {
    expect(retryAfterMs(headers({ 'retry-after': 'soon' }), now)).toBeUndefined();
    expect(retryAfterMs(headers({ 'retry-after-ms': 'soon' }), now)).toBeUndefined();
    expect(retryAfterMs(headers({ 'retry-after-ms': '', 'retry-after': '' }), now)).toBeUndefined();
    expect(retryAfterMs(headers({}), now)).toBeUndefined();
    expect(retryAfterMs(undefined, now)).toBeUndefined();
    // Garbage in retry-after-ms falls back to retry-after.
    expect(retryAfterMs(headers({ 'retry-after-ms': 'x', 'retry-after': '3' }), now)).toBe(3000);
  });
});

describe('the failure mapping', () => {
  const apiError = (status: number, headers: Record<string, string> = {}) =>
    OpenAI.APIError.generate(status, { message: `scripted ${status}` }, undefined, new Headers(headers));
  const mapped = (error: unknown) =>
    toTemporalFailure(error, 'wc model m at http://x/v1') as ApplicationFailure;

  it.each([
    [408, false],
    [409, false],
    [425, false],
    [429, false],
    [500, false],
    [502, false],
    [503, false],
    [504, false],
    [599, false],
    [400, true],
    [401, true],
    [403, true],
    [404, true],
    [422, true],
  ])('HTTP %i -> Http%i, nonRetryable %s', (status, nonRetryable) => {
    const failed = mapped(apiError(status));
    expect(failed).toBeInstanceOf(ApplicationFailure);
    expect(failed.type).toBe(`Http${status}`);
    expect(failed.nonRetryable).toBe(nonRetryable);
    expect(failed.message).toContain(`wc model m at http://x/v1: HTTP ${status}`);
  });

  it('passes Retry-After on as the next retry delay, only when a retry can help', () => {
    expect(mapped(apiError(429, { 'retry-after': '3' })).nextRetryDelay).toBe(3000);
    expect(mapped(apiError(503, { 'retry-after-ms': '40' })).nextRetryDelay).toBe(40);
    expect(mapped(apiError(500)).nextRetryDelay).toBeUndefined();
    expect(mapped(apiError(400, { 'retry-after': '3' })).nextRetryDelay).toBeUndefined();
  });

  it('hints at the key for 401/403 and at the model id for 404', () => {
    expect(mapped(apiError(401)).message).toMatch(/apiKeyEnv/);
    expect(mapped(apiError(403)).message).toMatch(/apiKeyEnv/);
    expect(mapped(apiError(404)).message).toMatch(/model id and baseURL/);
  });

  it('maps timeouts, connection errors and anything else to retryable types', () => {
    const timeout = mapped(new OpenAI.APIConnectionTimeoutError());
    expect([timeout.type, timeout.nonRetryable]).toEqual([FailureType.Timeout, false]);
    const connection = mapped(new OpenAI.APIConnectionError({ message: 'ECONNREFUSED' }));
    expect([connection.type, connection.nonRetryable]).toEqual([FailureType.ConnectionError, false]);
    const malformed = mapped(new SyntaxError('Unexpected token < in JSON'));
    expect([malformed.type, malformed.nonRetryable]).toEqual([FailureType.MalformedResponse, false]);
  });

  it('passes Temporal failures through unchanged', () => {
    const mismatch = failure(FailureType.RunDirMismatch, 'x');
    expect(toTemporalFailure(mismatch, 'w')).toBe(mismatch);
    const cancelled = new CancelledFailure('cancelled');
    expect(toTemporalFailure(cancelled, 'w')).toBe(cancelled);
  });
});

describe('failure types', () => {
  it('makes deterministic problems non-retryable and endpoint hiccups retryable', () => {
    for (const type of Object.values(FailureType) as FailureTypeName[]) {
      expect(failure(type, 'm').nonRetryable).toBe(NON_RETRYABLE_TYPES.has(type));
    }
    expect(failure(FailureType.BadRunData, 'm').nonRetryable).toBe(true);
    expect(failure(FailureType.MissingArtifact, 'm').nonRetryable).toBe(true);
    expect(failure(FailureType.EmptyChoices, 'm').nonRetryable).toBe(false);
    expect(httpFailure(429, 'm', 10)).toMatchObject({
      type: 'Http429',
      nonRetryable: false,
      nextRetryDelay: 10,
    });
  });

  it('names the failures ApplicationFailure.fromError makes of the input errors', () => {
    const dataset = ApplicationFailure.fromError(new DatasetError('p.jsonl', ['line 1: bad']));
    expect(dataset.type).toBe(FailureType.DatasetError);
    expect(ApplicationFailure.fromError(new PlanError('too small')).type).toBe(FailureType.PlanError);
  });

  it('finds the innermost failure type in a cause chain', () => {
    const inner = failure(FailureType.BadRunData, 'inner');
    const middle = ApplicationFailure.create({ message: 'activity failed', type: 'Outer', cause: inner });
    const outer = new Error('workflow failed', { cause: middle });
    expect(rootFailureType(outer)).toBe(FailureType.BadRunData);
    expect(rootFailureType(new Error('plain'))).toBeNull();
    expect(rootFailureType('not an error')).toBeNull();
  });
});

describe('deterministic data problems', () => {
  it('fail once, without retry, as BadRunData', async () => {
    const runDir = await mkdtemp(path.join(os.tmpdir(), 'wcse-bad-run-data-'));
    const store = openStore(runDir);
    await store.write(PROBLEMS_KEY, toJsonl([{ id: 'q1', question: 'What is 1 + 1?', gold: '2' }]));
    const sample = {
      source: 'wc',
      questionId: 'q9',
      round: 0,
      sampleIndex: 0,
      text: 'The answer is 2.',
      finishReason: 'stop',
      requestId: null,
      requestUsage: { promptTokens: 1, completionTokens: 1 },
      attempt: 1,
      seed: 0,
    };
    await writeFinishedBatch(store, batchKey('wc', 0, 0), [sample], {
      fingerprint: 'test',
      questions: 1,
      ledger: EMPTY_LEDGER,
    });
    // The activity's failure is expected here: keep the environment's logger quiet.
    const logger = new DefaultLogger('ERROR');
    const unknown = await new MockActivityEnvironment(undefined, { logger })
      .run(verifySource, { runDir, source: 'wc' as const, format: 'gsm8k' as const })
      .catch((e: unknown) => e);
    expect(unknown).toMatchObject({ type: FailureType.BadRunData, nonRetryable: true });
    expect((unknown as Error).message).toMatch(/question q9, which is not in the run's problem set/);
    const unverified = await loadVerifiedSamples(store, 'wc').catch((e: unknown) => e);
    expect(unverified).toMatchObject({ type: FailureType.BadRunData, nonRetryable: true });
  });
});

describe('heartbeats by time', () => {
  const fakeContext = (heartbeatTimeoutMs: number | undefined) => {
    const heartbeat = vi.fn();
    return { context: { info: { heartbeatTimeoutMs }, heartbeat } as unknown as Context, heartbeat };
  };
  afterEach(() => {
    vi.useRealTimers();
  });

  it('beats every third of the heartbeat timeout, within 200 ms .. 10 s', () => {
    expect(heartbeatIntervalMs(fakeContext(1_500).context)).toBe(500);
    expect(heartbeatIntervalMs(fakeContext(300).context)).toBe(200);
    expect(heartbeatIntervalMs(fakeContext(120_000).context)).toBe(10_000);
    expect(heartbeatIntervalMs(fakeContext(undefined).context)).toBe(10_000);
  });

  it('heartbeats from a busy loop once per interval, however often it is called', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    const { context, heartbeat } = fakeContext(3_000); // every second
    const beat = heartbeatEvery(context);
    for (let i = 0; i < 1000; i++) await beat({ i });
    expect(heartbeat).not.toHaveBeenCalled();
    vi.setSystemTime(Date.now() + 1_000);
    for (let i = 0; i < 1000; i++) await beat({ i });
    expect(heartbeat).toHaveBeenCalledTimes(1);
    expect(heartbeat).toHaveBeenCalledWith({ i: 0 });
    vi.setSystemTime(Date.now() + 2_500);
    await beat({ i: 7 });
    await beat({ i: 8 });
    expect(heartbeat).toHaveBeenCalledTimes(2);
    expect(heartbeat).toHaveBeenLastCalledWith({ i: 7 });
  });
});

describe('Semaphore', () => {
  it('admits at most `limit` holders, first come first served', async () => {
    const semaphore = new Semaphore(2);
    const order: number[] = [];
    const releases = await Promise.all([semaphore.acquire(), semaphore.acquire()]);
    const waiting = [3, 4].map((i) => semaphore.acquire().then((release) => (order.push(i), release)));
    await Promise.resolve();
    expect([semaphore.holders, semaphore.waiters]).toEqual([2, 2]);
    releases[0]();
    const third = await waiting[0];
    expect(order).toEqual([3]);
    expect([semaphore.holders, semaphore.waiters]).toEqual([2, 1]);
    releases[1]();
    third();
    await waiting[1];
    expect(order).toEqual([3, 4]);
    expect([semaphore.holders, semaphore.waiters]).toEqual([1, 0]);
  });

  it('releases once however often release is called', async () => {
    const semaphore = new Semaphore(1);
    const release = await semaphore.acquire();
    const next = semaphore.acquire();
    release();
    release();
    const second = await next;
    expect(semaphore.holders).toBe(1);
    // A second release of the first holder must not let a third caller in beside the second.
    let thirdIn = false;
    const third = semaphore.acquire().then((r) => ((thirdIn = true), r));
    release();
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(thirdIn).toBe(false);
    second();
    (await third)();
    expect(semaphore.holders).toBe(0);
  });

  it('takes a new limit at once: waiters enter when it grows, holders drain when it shrinks', async () => {
    const semaphore = new Semaphore(1);
    const first = await semaphore.acquire();
    const waiting = [semaphore.acquire(), semaphore.acquire()];
    await Promise.resolve();
    expect(semaphore.waiters).toBe(2);
    semaphore.setLimit(3);
    const [second, third] = await Promise.all(waiting);
    expect([semaphore.holders, semaphore.waiters]).toEqual([3, 0]);
    semaphore.setLimit(1);
    let lateIn = false;
    const late = semaphore.acquire().then((release) => ((lateIn = true), release));
    first();
    second();
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(lateIn).toBe(false);
    third();
    (await late)();
    expect([semaphore.holders, semaphore.waiters]).toEqual([0, 0]);
  });

  it('gives up waiting when the signal aborts, and leaves the queue as it was', async () => {
    const semaphore = new Semaphore(1);
    const release = await semaphore.acquire();
    const controller = new AbortController();
    const waiting = semaphore.acquire(controller.signal);
    await Promise.resolve();
    expect(semaphore.waiters).toBe(1);
    const reason = new CancelledFailure('cancelled');
    controller.abort(reason);
    await expect(waiting).rejects.toBe(reason);
    expect([semaphore.holders, semaphore.waiters]).toEqual([1, 0]);
    release();
    expect(semaphore.holders).toBe(0);
    await expect(semaphore.acquire(controller.signal)).rejects.toBe(reason);
  });
});

describe('Semaphore priorities', () => {
  it('serves lower priorities first, first come first served among equals', async () => {
    const semaphore = new Semaphore(1);
    const release = await semaphore.acquire();
    const order: string[] = [];
    const waiting = (
      [
        ['late batch', 3],
        ['no priority', undefined],
        ['early batch a', 1],
        ['early batch b', 1],
      ] as const
    ).map(([name, priority]) =>
      semaphore.acquire(undefined, priority).then((next) => {
        order.push(name);
        next();
      }),
    );
    release();
    await Promise.all(waiting);
    expect(order).toEqual(['early batch a', 'early batch b', 'late batch', 'no priority']);
  });
});

describe('RateLimiter (fake time)', () => {
  beforeAll(() => {
    vi.useFakeTimers();
  });
  afterAll(() => {
    vi.useRealTimers();
  });

  it('allows a minute of burst, then refills continuously', async () => {
    const limiter = new RateLimiter(60); // one per second
    const start = Date.now();
    const takenAt: number[] = [];
    const all = Promise.all(
      Array.from({ length: 63 }, () => limiter.take(1).then(() => takenAt.push(Date.now() - start))),
    );
    await vi.advanceTimersByTimeAsync(10_000);
    await all;
    expect(takenAt.slice(0, 60)).toEqual(Array(60).fill(0));
    // The rest come one per second after the burst.
    expect(takenAt.slice(60).map((t) => Math.round(t / 1000))).toEqual([1, 2, 3]);
    for (const [i, t] of takenAt.entries()) expect(t).toBeGreaterThanOrEqual((i + 1 - 60) * 1000 - 5);
  });

  /** Takes `units`, which is still waiting a second before `waitMs` and done 100 ms after it. */
  async function expectTakeWaits(limiter: RateLimiter, units: number, waitMs: number) {
    let done = false;
    const taking = limiter.take(units).then(() => (done = true));
    await vi.advanceTimersByTimeAsync(waitMs - 1000);
    expect(done).toBe(false);
    await vi.advanceTimersByTimeAsync(1_100);
    await taking;
    expect(done).toBe(true);
  }

  it('makes a large request wait for its units, capped at a minute', async () => {
    const limiter = new RateLimiter(1200); // 20 per second
    await limiter.take(1200);
    await expectTakeWaits(limiter, 600, 30_000);
    // More than a minute's worth waits for one full minute, not forever.
    await expectTakeWaits(limiter, 5000, 60_000);
  });

  it('stops waiting when the signal aborts', async () => {
    const limiter = new RateLimiter(6);
    for (let i = 0; i < 6; i++) await limiter.take(1);
    const controller = new AbortController();
    const waiting = limiter.take(1, controller.signal);
    const settled = vi.fn();
    waiting.then(settled, settled);
    await vi.advanceTimersByTimeAsync(1000);
    expect(settled).not.toHaveBeenCalled();
    const reason = new CancelledFailure('cancelled');
    controller.abort(reason);
    await expect(waiting).rejects.toBe(reason);
    expect(vi.getTimerCount()).toBe(0);
  });
});

describe('callChat against the scripted endpoint', () => {
  let server: ScriptedServer;
  beforeAll(async () => {
    server = await startScriptedServer({ models: {}, recordRequests: true });
  });
  afterAll(() => server?.close());
  afterEach(() => {
    server.clearFaults();
    server.resetStats();
  });

  let counter = 0;
  /** A model of its own (an echo script under a fresh name), so every test gets fresh per-process limits. */
  const echoModel = (overrides: Record<string, unknown> = {}): ModelConfig => {
    const name = `echo-${counter++}`;
    server.setModel(name, { respond: (ctx) => ({ content: `echo ${ctx.lastUserMessage}` }) });
    return validModel(name, server.baseURL, 1e9, { sampling: { maxTokens: 8 }, ...overrides });
  };
  const body = (model: ModelConfig, content: string) => ({
    model: model.model,
    messages: [{ role: 'user' as const, content }],
    max_tokens: model.sampling.maxTokens,
  });
  const call = (signal = new AbortController().signal) => ({
    what: 'test model echo',
    signal,
    promptTokensBound: 10,
  });

  it('answers with the completion and the request id', async () => {
    const model = echoModel();
    const response = await callChat(model, body(model, 'hi'), call());
    expect(response!.data.choices[0].message.content).toBe('echo hi');
    expect(response!.requestId).toBe(server.stats.requests[0].requestId);
  });

  it('holds at most `concurrency` requests in flight', async () => {
    const model = echoModel({ concurrency: 2 });
    server.holdAfter(0);
    const calls = Array.from({ length: 5 }, (_, i) => callChat(model, body(model, `q${i}`), call()));
    await server.waitForHeld(2, 5_000);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(server.stats.received).toBe(2);
    server.release();
    await Promise.all(calls);
    expect(server.stats.served).toBe(5);
  });

  it('sends nothing when the call is no longer wanted', async () => {
    const model = echoModel();
    expect(await callChat(model, body(model, 'x'), { ...call(), stillWanted: () => false })).toBeNull();
    expect(server.stats.received).toBe(0);
  });

  it('rejects with the cancellation, sending nothing, once the signal has aborted', async () => {
    const model = echoModel({ requestsPerMinute: 1 });
    await callChat(model, body(model, 'first'), call());
    const controller = new AbortController();
    const waiting = callChat(model, body(model, 'second'), call(controller.signal));
    const reason = new CancelledFailure('cancelled');
    setTimeout(() => controller.abort(reason), 50);
    await expect(waiting).rejects.toBe(reason);
    expect(server.stats.received).toBe(1);
  });

  it('aborts a request in flight with the signal, leaving no listener per request on it', async () => {
    const model = echoModel({ concurrency: 4 });
    const controller = new AbortController();
    const added = vi.spyOn(controller.signal, 'addEventListener');
    for (let i = 0; i < 5; i++) await callChat(model, body(model, `q${i}`), call(controller.signal));
    // One listener for the signal, whatever the number of requests (the client's stays on its own signal).
    expect(added.mock.calls.length).toBeLessThanOrEqual(1);
    server.holdAfter(0);
    const inFlight = callChat(model, body(model, 'held'), call(controller.signal));
    await server.waitForHeld(1, 5_000);
    const reason = new CancelledFailure('cancelled');
    controller.abort(reason);
    await expect(inFlight).rejects.toBe(reason);
    server.release();
  });

  it('maps an error answer to its failure type', async () => {
    const model = echoModel();
    server.injectFaults({ kind: 'status', status: 401, message: 'Incorrect API key provided' });
    const error = await callChat(model, body(model, 'x'), call()).catch((e: unknown) => e);
    expect(error).toMatchObject({ type: 'Http401', nonRetryable: true });
    server.injectFaults({ kind: 'status', status: 429, retryAfterSeconds: 2 });
    const limited = await callChat(model, body(model, 'x'), call()).catch((e: unknown) => e);
    expect(limited).toMatchObject({ type: 'Http429', nonRetryable: false, nextRetryDelay: 2000 });
    server.injectFaults({ kind: 'malformed-json' });
    const malformed = await callChat(model, body(model, 'x'), call()).catch((e: unknown) => e);
    expect(malformed).toMatchObject({ type: FailureType.MalformedResponse, nonRetryable: false });
  });

  it('fails with MissingApiKey before sending when the key variable is unset', async () => {
    const model = echoModel({ apiKeyEnv: 'WCSE_TEST_UNSET_KEY' });
    const error = await callChat(model, body(model, 'x'), call()).catch((e: unknown) => e);
    expect(rootFailureType(error)).toBe(FailureType.MissingApiKey);
    expect(server.stats.received).toBe(0);
  });
});
