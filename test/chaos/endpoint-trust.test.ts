// Chaos: endpoints that cannot be trusted. Usage reported as zero, or for one choice of n (llama-server),
// can never make a run spend past its budget; an error body that echoes the API key never reaches workflow
// history; a 3 MB error body fails once with a recorded, truncated error; a 200 that is not a chat
// completion is a named failure that stops being retried.
import { describe, expect, it, onTestFinished } from 'vitest';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import { callChat } from '../../activities/endpoint.js';
import { retryingActivities, type RetryingActivity } from '../../cli/control.js';
import { validateConfig, type ModelConfig } from '../../core/config.js';
import { FailureType, NOT_A_CHAT_COMPLETION_ATTEMPTS } from '../../core/failures.js';
import { MAX_ENDPOINT_TEXT } from '../../core/redact.js';
import { allText } from '../support/history-text.js';
import { answerScript, startScriptedServer } from '../support/scripted-server.js';
import {
  model,
  problemsBlock,
  rootCauseMessage,
  rootFailureType,
  runExperiment,
  startScriptedStudy,
  testConfig,
  uniqueId,
  useTemporal,
} from '../support/harness.js';

const KEY = 'sk-chaos-echoed-secret-0123456789abcdef';
process.env.WCSE_TEST_API_KEY = KEY;

/** The histories of a workflow and, recursively, of every child it started, as text. */
async function historiesOf(client: Client, workflowId: string, runId?: string): Promise<string[]> {
  const history = await client.workflow.getHandle(workflowId, runId).fetchHistory();
  const texts = [allText(history)];
  for (const event of history.events ?? []) {
    const child = event.childWorkflowExecutionStartedEventAttributes?.workflowExecution;
    if (child?.workflowId) {
      texts.push(...(await historiesOf(client, child.workflowId, child.runId ?? undefined)));
    }
  }
  return texts;
}

describe('budgets that distrust the endpoint', () => {
  const temporal = useTemporal('distrust');

  it('a zero-usage endpoint cannot spend past a FLOPs budget', async () => {
    const { client, worker } = temporal;
    const questions = 5;
    const maxTokens = 40;
    const study = await startScriptedStudy({
      name: 'zero-usage',
      questions,
      models: (gold) => ({
        weak: { ...answerScript({ gold, correctFraction: 0.5, reasoningWords: 20 }), reportUsage: 'zero' },
        strong: { ...answerScript({ gold, correctFraction: 1, reasoningWords: 20 }), reportUsage: 'none' },
      }),
    });
    onTestFinished(() => study.server.close());
    const params = { wc: 1e9, se: 2e9 };
    // 3.5 worst-case rounds of one sample per question for WC, 1.75 for SE.
    const budget = 2 * params.wc * maxTokens * questions * 3.5;
    const config = testConfig({
      problems: problemsBlock(study.problemsFile),
      models: {
        wc: model(study.server.baseURL, 'weak', params.wc, { sampling: { maxTokens } }),
        se: model(study.server.baseURL, 'strong', params.se, { sampling: { maxTokens } }),
      },
      budget: { mode: 'flops', flopsPerSource: budget, samplesPerRound: 1 },
      sampling: { batchSize: 5 },
    });
    const result = await runExperiment(client, worker.taskQueue, {
      runDir: path.join(study.dir, 'run'),
      config,
    });
    for (const [source, name] of [
      ['wc', 'weak'],
      ['se', 'strong'],
    ] as const) {
      const { ledger } = result.sampling[source];
      const served = study.server.stats.perModel[name];
      // What the endpoint really generated (its own exact counters) stayed within the budget...
      expect(2 * params[source] * served.completionTokens).toBeLessThanOrEqual(budget);
      // ...because every response was charged at its worst case, and flagged.
      expect(ledger.requests).toBe(served.served);
      expect(ledger.usageDistrusted).toBe(ledger.requests);
      expect(ledger.completionTokens).toBe(ledger.samples * maxTokens);
      expect(ledger.flops).toBeLessThanOrEqual(budget);
      expect(ledger.samples).toBeGreaterThanOrEqual(questions);
    }
    // Sampling stopped on the budget, not for lack of questions: at most 3.5 worst-case rounds for WC.
    expect(result.sampling.wc.ledger.samples).toBeLessThanOrEqual(3.5 * questions);
    expect(result.sampling.wc.stopReason).toMatch(/budget/i);
  });

  it('n > 1 against an endpoint that reports one choice (llama-server) is never undercounted', async () => {
    const { client, worker } = temporal;
    const questions = 8;
    const maxTokens = 64;
    const run = async (reportUsage: 'exact' | 'first-choice', ownedBy?: string) => {
      const study = await startScriptedStudy({
        name: `n-usage-${reportUsage}`,
        questions,
        models: (gold) => ({
          weak: { ...answerScript({ gold, correctFraction: 0.5, reasoningWords: 12 }), reportUsage, ownedBy },
          strong: { ...answerScript({ gold, correctFraction: 1, reasoningWords: 12 }), reportUsage, ownedBy },
        }),
      });
      onTestFinished(() => study.server.close());
      const config = testConfig({
        problems: problemsBlock(study.problemsFile),
        models: {
          // Unique model names per run: the per-process memory of undercounting endpoints starts empty.
          wc: model(study.server.baseURL, 'weak', 1e9, { concurrency: 1, sampling: { maxTokens } }),
          se: model(study.server.baseURL, 'strong', 2e9, { concurrency: 1, sampling: { maxTokens } }),
        },
        budget: { mode: 'ratio', samplesPerQuestion: 2 },
        sampling: { batchSize: 1 },
      });
      const result = await runExperiment(client, worker.taskQueue, {
        runDir: path.join(study.dir, 'run'),
        config,
      });
      return { result, stats: study.server.stats };
    };

    const exact = await run('exact');
    const undercounting = await run('first-choice');
    // The same endpoint, recognisable as a llama-server by its model list.
    const llama = await run('first-choice', 'llamacpp');
    for (const [source, name, perQuestion] of [
      ['wc', 'weak', 4],
      ['se', 'strong', 2],
    ] as const) {
      // An honest endpoint: usage believed, one request per question, ledger == what was generated.
      const honest = exact.result.sampling[source].ledger;
      expect(honest.usageDistrusted).toBeUndefined();
      expect(honest.requests).toBe(questions);
      expect(honest.completionTokens).toBe(exact.stats.perModel[name].completionTokens);

      const ledger = undercounting.result.sampling[source].ledger;
      const generated = undercounting.stats.perModel[name];
      expect(ledger.samples).toBe(questions * perQuestion);
      // Never below what was generated; responses it could not count exactly are flagged, and charged
      // at most max_tokens for each of their choices.
      expect(ledger.completionTokens).toBeGreaterThanOrEqual(generated.completionTokens);
      expect(ledger.usageDistrusted).toBeGreaterThanOrEqual(1);
      expect(ledger.completionTokens - generated.completionTokens).toBeLessThanOrEqual(
        ledger.usageDistrusted! * perQuestion * maxTokens,
      );
      // Once seen, the endpoint gets one choice per request: more requests than questions.
      expect(generated.served).toBeGreaterThan(questions);
      expect(ledger.requests).toBe(generated.served);

      // Recognised before its first request: one choice per request from the start, usage exact.
      const exactLlama = llama.result.sampling[source].ledger;
      expect(exactLlama.usageDistrusted).toBeUndefined();
      expect(exactLlama.requests).toBe(questions * perQuestion);
      expect(exactLlama.completionTokens).toBe(llama.stats.perModel[name].completionTokens);
      expect(exactLlama.flops).toBe(2 * exactLlama.completionTokens * (source === 'wc' ? 1e9 : 2e9));
    }
  });
});

describe('errors that are safe to record', () => {
  const temporal = useTemporal('safe-errors');

  const oneQuestionRun = async (name: string) => {
    const study = await startScriptedStudy({ name, questions: 1 });
    onTestFinished(() => study.server.close());
    const config = testConfig({
      problems: problemsBlock(study.problemsFile),
      models: {
        wc: model(study.server.baseURL, 'weak', 1e9),
        se: model(study.server.baseURL, 'strong', 2e9),
      },
      budget: { mode: 'ratio', samplesPerQuestion: 1 },
    });
    return { study, config, runDir: path.join(study.dir, 'run') };
  };

  it('a 401 whose body echoes the key: the key never reaches any history', async () => {
    const { client, worker } = temporal;
    const { study, config, runDir } = await oneQuestionRun('echo-key');
    study.server.injectFaults({
      kind: 'status',
      status: 401,
      message: `Incorrect API key provided: ${KEY}. Authorization: Bearer ${KEY}`,
      times: 100,
    });
    const experimentId = uniqueId('exp-echo-key');
    const error = await runExperiment(client, worker.taskQueue, { experimentId, runDir, config }).catch(
      (e: unknown) => e,
    );
    expect(rootFailureType(error)).toBe('Http401');
    expect(rootCauseMessage(error)).toContain('Incorrect API key provided: [REDACTED]');
    expect(rootCauseMessage(error)).not.toContain(KEY);
    const histories = await historiesOf(client, experimentId);
    expect(histories.length).toBeGreaterThanOrEqual(2);
    const all = histories.join('\n');
    // The failure (with the endpoint's text) is recorded, the key is not.
    expect(all).toContain('Incorrect API key provided: [REDACTED]');
    expect(all).not.toContain(KEY);
    expect(all).not.toContain(KEY.slice(3, 20));
    expect(all).not.toContain(Buffer.from(KEY).toString('base64'));
  });

  it('a 3 MB error body on a 400 fails once, with a recorded, truncated error', async () => {
    const { client, worker } = temporal;
    const { study, config, runDir } = await oneQuestionRun('huge-body');
    study.server.injectFaults({ kind: 'status', status: 400, message: 'E'.repeat(3_000_000), times: 100 });
    const experimentId = uniqueId('exp-huge-body');
    const error = await runExperiment(client, worker.taskQueue, { experimentId, runDir, config }).catch(
      (e: unknown) => e,
    );
    expect(rootFailureType(error)).toBe('Http400');
    const message = rootCauseMessage(error);
    expect(message.length).toBeLessThan(MAX_ENDPOINT_TEXT + 500);
    expect(message).toMatch(/truncated: 3\d{6} characters in all/);
    // Non-retryable: each source's one request failed once and nothing was sent again.
    expect(study.server.stats.faulted).toBeLessThanOrEqual(2);
    expect(study.server.stats.faulted).toBeGreaterThanOrEqual(1);
    expect(study.server.stats.served).toBe(0);
  });

  it('a 200 that is not a chat completion is NotAChatCompletion, retried a few times then not', async () => {
    const { client, worker } = temporal;
    const { study, config, runDir } = await oneQuestionRun('not-a-completion');
    study.server.injectFaults({ kind: 'not-a-completion', body: 'html', times: 1000 });
    const experimentId = uniqueId('exp-not-a-completion');
    const running = runExperiment(client, worker.taskQueue, { experimentId, runDir, config }).catch(
      (e: unknown) => e,
    );
    // While it is retried, `wcse status` shows the failure of the retried activity.
    let retrying: RetryingActivity[] = [];
    for (let i = 0; i < 100 && !retrying.length; i++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      retrying = await retryingActivities(client, experimentId);
    }
    expect(retrying[0]).toMatchObject({ activity: 'sampleBatch', type: FailureType.NotAChatCompletion });
    expect(retrying[0].message).toMatch(/HTTP 200 but the body is not JSON/);
    const error = await running;
    expect(rootFailureType(error)).toBe(FailureType.NotAChatCompletion);
    expect(rootCauseMessage(error)).toMatch(/not JSON.*Welcome to nginx/);
    // At most NOT_A_CHAT_COMPLETION_ATTEMPTS attempts of each source's one request.
    expect(study.server.stats.faulted).toBeLessThanOrEqual(2 * NOT_A_CHAT_COMPLETION_ATTEMPTS);
    expect(study.server.stats.faulted).toBeGreaterThanOrEqual(NOT_A_CHAT_COMPLETION_ATTEMPTS);
  }, 60_000);

  it('callChat names HTML and error-object bodies, retryable before the last attempt only', async () => {
    const server = await startScriptedServer({ models: { echo: { respond: () => ({ content: 'hi' }) } } });
    onTestFinished(() => server.close());
    const echo: ModelConfig = validateConfig(
      {
        name: 'not-a-completion',
        problems: { path: 'x.jsonl', kind: 'gsm8k' },
        models: {
          wc: { model: 'echo', baseURL: server.baseURL, params: 1e9, apiKeyEnv: 'WCSE_TEST_API_KEY' },
          se: { model: 'echo', baseURL: server.baseURL, params: 1e9 },
        },
        budget: { mode: 'ratio', samplesPerQuestion: 1 },
      },
      'test',
    ).models.wc;
    const send = (attempt: number) =>
      callChat(
        echo,
        { model: 'echo', messages: [{ role: 'user', content: 'hi' }], max_tokens: 4 },
        { what: 'wc model echo', signal: new AbortController().signal, promptTokensBound: 10, attempt },
      ).catch((e: unknown) => e);
    server.injectFaults({ kind: 'not-a-completion', body: 'error-object' });
    expect(await send(1)).toMatchObject({ type: FailureType.NotAChatCompletion, nonRetryable: false });
    server.injectFaults({ kind: 'not-a-completion', body: 'html' });
    const last = await send(NOT_A_CHAT_COMPLETION_ATTEMPTS);
    expect(last).toMatchObject({ type: FailureType.NotAChatCompletion, nonRetryable: true });
    expect((last as Error).message).toMatch(/wc model echo: HTTP 200 but the body is not JSON/);
    const fine = await send(1);
    expect((fine as { data: { choices: unknown[] } }).data.choices).toHaveLength(1);
  });
});
