// The LLM judge goes through the same endpoint path as sampling, so it honours the judge model's
// requestsPerMinute: checked at the scripted endpoint from the arrival time of every request.
import { MockActivityEnvironment } from '@temporalio/testing';
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { judgeFalsePositives, type JudgeInput } from '../activities/analyse.js';
import { openStore, toJsonl } from '../activities/store.js';
import type { ModelConfig } from '../core/config.js';
import { batchKey, judgeResultKey, PROBLEMS_KEY, verdictsKey } from '../core/layout.js';
import { EMPTY_LEDGER, type Problem, type SampleRecord, type VerdictRecord } from '../core/records.js';
import { writeFinishedBatch } from '../activities/sampling.js';
import { validModel } from './support/model-config.js';
import { startScriptedServer, type ModelScript, type ScriptedServer } from './support/scripted-server.js';

process.env.WCSE_TEST_API_KEY = 'sk-test-judge-limits';

const SAMPLES = 64;
const PER_MINUTE = 60;
const FLAWED = '(flawed step)';

/** A run directory whose SE source has SAMPLES verified-correct samples, every fourth one flawed. */
async function runDirWithCorrectSamples(): Promise<string> {
  const runDir = await mkdtemp(path.join(os.tmpdir(), 'wcse-judge-limits-'));
  const store = openStore(runDir);
  const problems: Problem[] = [];
  const samples: SampleRecord[] = [];
  const verdicts: VerdictRecord[] = [];
  for (let i = 0; i < SAMPLES; i++) {
    const id = `q${i}`;
    problems.push({ id, question: `What is ${i} + ${i}?`, gold: String(2 * i) });
    const text = `${i} + ${i} = ${2 * i}${i % 4 === 0 ? ` ${FLAWED}` : ''}. The answer is ${2 * i}.`;
    samples.push({
      source: 'se',
      questionId: id,
      round: 0,
      sampleIndex: 0,
      text,
      finishReason: 'stop',
      requestId: null,
      requestUsage: { promptTokens: 10, completionTokens: 10 },
      attempt: 1,
      seed: 0,
    });
    verdicts.push({
      source: 'se',
      questionId: id,
      sampleIndex: 0,
      extracted: String(2 * i),
      normalized: String(2 * i),
      correct: true,
      reason: 'match',
    });
  }
  await store.write(PROBLEMS_KEY, toJsonl(problems));
  await writeFinishedBatch(store, batchKey('se', 0, 0), samples, {
    fingerprint: 'test',
    questions: SAMPLES,
    ledger: EMPTY_LEDGER,
  });
  await store.write(verdictsKey('se'), toJsonl(verdicts));
  return runDir;
}

/** How much earlier a request may arrive than its token allows: network and connection set-up jitter. */
const SLACK_MS = 400;

/**
 * Whether arrival times fit a token bucket of `perMinute` (capacity one minute's worth, refilled
 * continuously): any run of requests i..j holds no more than the capacity plus what refills between
 * the first and the last of them, give or take `SLACK_MS`.
 */
function fitsBucket(arrivals: number[], perMinute: number): boolean {
  const sorted = [...arrivals].sort((a, b) => a - b);
  const refillMs = 60_000 / perMinute;
  for (let i = 0; i < sorted.length; i++) {
    for (let j = i; j < sorted.length; j++) {
      if (j - i + 1 > perMinute + (sorted[j] - sorted[i] + SLACK_MS) / refillMs) return false;
    }
  }
  return true;
}

describe('the judge and the requests-per-minute limit', () => {
  let server: ScriptedServer;
  beforeAll(async () => {
    const judge: ModelScript = {
      respond: (ctx) => ({
        content: ctx.lastUserMessage.includes(FLAWED) ? 'A wrong step.\nINVALID' : 'VALID',
      }),
    };
    server = await startScriptedServer({
      models: { 'judge-limited': judge, 'judge-free': judge },
      recordRequests: true,
    });
  });
  afterAll(() => server?.close());

  const judgeModel = (name: string, requestsPerMinute?: number): ModelConfig => {
    return validModel(name, server.baseURL, 70e9, {
      sampling: { maxTokens: 16 },
      concurrency: 16,
      ...(requestsPerMinute ? { requestsPerMinute } : {}),
    });
  };

  const judgeInput = (runDir: string, judge: ModelConfig): JudgeInput => ({
    runDir,
    source: 'se',
    judge,
    sampleSize: SAMPLES,
    seed: 0,
    prompt: 'Problem: {question}\nGold: {gold}\nSolution: {solution}\nVALID or INVALID?',
  });

  const arrivals = (model: string) =>
    server.stats.requests.filter((r) => r.model === model).map((r) => r.receivedAt);

  it('spaces requests past the first minute of burst, heartbeating while it waits', async () => {
    const runDir = await runDirWithCorrectSamples();
    const env = new MockActivityEnvironment({ heartbeatTimeoutMs: 1_500 });
    let heartbeats = 0;
    env.on('heartbeat', () => heartbeats++);
    const result = await env.run(
      judgeFalsePositives,
      judgeInput(runDir, judgeModel('judge-limited', PER_MINUTE)),
    );
    expect(result).toMatchObject({ judged: SAMPLES, invalid: SAMPLES / 4, unparsed: 0, fpr: 0.25 });

    const times = arrivals('judge-limited');
    expect(times).toHaveLength(SAMPLES);
    expect(fitsBucket(times, PER_MINUTE)).toBe(true);
    // 60 at once, then one per second: the last of 64 arrives about 4 s after the first.
    const spread = Math.max(...times) - Math.min(...times);
    expect(spread).toBeGreaterThanOrEqual(((SAMPLES - PER_MINUTE) * 60_000) / PER_MINUTE - SLACK_MS);
    // Heartbeats by time (every 500 ms here) while judgments waited for the limiter.
    expect(heartbeats).toBeGreaterThanOrEqual(3);

    // Judgments are saved as paid: judging again sends nothing and gives the same result.
    const before = server.stats.received;
    const again = await new MockActivityEnvironment().run(
      judgeFalsePositives,
      judgeInput(runDir, judgeModel('judge-limited', PER_MINUTE)),
    );
    expect(again).toEqual(result);
    expect(server.stats.received).toBe(before);
    expect(await openStore(runDir).exists(judgeResultKey('se'))).toBe(true);
  });

  it('the same check fails for a judge without the limit', async () => {
    const runDir = await runDirWithCorrectSamples();
    await new MockActivityEnvironment().run(
      judgeFalsePositives,
      judgeInput(runDir, judgeModel('judge-free')),
    );
    const times = arrivals('judge-free');
    expect(times).toHaveLength(SAMPLES);
    expect(fitsBucket(times, PER_MINUTE)).toBe(false);
  });
});
