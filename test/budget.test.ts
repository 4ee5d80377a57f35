// The flops budget: spending never passes it, and sampling stops within one (worst-case) round of it.
import { describe, expect, it, onTestFinished } from 'vitest';
import path from 'node:path';
import { answerScript } from './support/scripted-server.js';
import {
  model,
  problemsBlock,
  runExperiment,
  startScriptedStudy,
  testConfig,
  useTemporal,
} from './support/harness.js';
import { worstCaseRoundCost } from '../core/plan.js';

process.env.WCSE_TEST_API_KEY = 'sk-test-budget';

describe('flops budget', () => {
  const temporal = useTemporal('budget');

  /** Problems and an endpoint whose one model, `weak`, answers half correctly; closed when the test ends. */
  const weakOnlyStudy = async (name: string, questions: number, reasoningWords: number) => {
    const study = await startScriptedStudy({
      name,
      questions,
      models: (gold) => ({ weak: answerScript({ gold, correctFraction: 0.5, reasoningWords }) }),
    });
    onTestFinished(() => study.server.close());
    return study;
  };

  it('spends at most the budget and stops within one round of it', async () => {
    const { client, worker } = temporal;
    const questions = 10;
    // Completions of ~36 tokens against max_tokens 40: the worst case is close to the real cost.
    const { dir, problemsFile, server } = await startScriptedStudy({
      name: 'budget',
      questions,
      models: (gold) => ({
        weak: answerScript({ gold, correctFraction: 0.5, reasoningWords: 30 }),
        strong: answerScript({ gold, correctFraction: 0.8, reasoningWords: 30 }),
      }),
    });
    onTestFinished(() => server.close());
    const budget = 2 * 1e9 * 40 * questions * 7.5; // 7.5 worst-case rounds of one sample at 1e9 params
    const config = testConfig({
      problems: problemsBlock(problemsFile),
      models: {
        wc: model(server.baseURL, 'weak', 1e9, { sampling: { maxTokens: 40 } }),
        se: model(server.baseURL, 'strong', 3e9, { sampling: { maxTokens: 40 } }),
      },
      budget: { mode: 'flops', flopsPerSource: budget, samplesPerRound: 1 },
      sampling: { batchSize: 5 },
    });
    const result = await runExperiment(client, worker.taskQueue, { runDir: path.join(dir, 'run'), config });
    for (const source of ['wc', 'se'] as const) {
      const { ledger, samplesPerQuestion } = result.sampling[source];
      const worst = worstCaseRoundCost({
        model: config.models[source],
        questions,
        samplesPerRound: 1,
        roundPromptTokens: 0,
        countPromptTokens: false,
      }).flops;
      expect(ledger.flops).toBeLessThanOrEqual(budget);
      expect(budget - ledger.flops).toBeLessThan(worst);
      expect(ledger.flops).toBe(2 * config.models[source].params * ledger.completionTokens);
      expect(samplesPerQuestion).toBeGreaterThan(0);
      expect(result.verify[source].samples).toBe(questions * samplesPerQuestion);
    }
    // WC (1e9) buys three times the rounds of SE (3e9) at the same budget.
    expect(result.sampling.wc.samplesPerQuestion).toBeGreaterThanOrEqual(
      3 * result.sampling.se.samplesPerQuestion - 1,
    );
    expect(result.sampling.se.stopReason).toMatch(/FLOPs budget/);
  });

  it('continues as new in a long sampling loop without losing count or budget', async () => {
    const { client, worker } = temporal;
    const questions = 4;
    const { dir, problemsFile, server } = await weakOnlyStudy('budget-can', questions, 5);
    // 30 worst-case rounds of 2 batches: ~60 activities, far past the test server's continue-as-new
    // suggestion at 200 history events.
    const budget = 2 * 1e9 * 12 * questions * 30;
    const config = testConfig({
      problems: problemsBlock(problemsFile),
      models: {
        wc: model(server.baseURL, 'weak', 1e9, { sampling: { maxTokens: 12 } }),
        se: model(server.baseURL, 'weak', 20e9, { sampling: { maxTokens: 12 } }),
      },
      budget: { mode: 'flops', flopsPerSource: budget },
      sampling: { batchSize: 2 },
    });
    const result = await runExperiment(client, worker.taskQueue, { runDir: path.join(dir, 'run'), config });
    const wc = result.sampling.wc;
    expect(wc.samplesPerQuestion).toBeGreaterThanOrEqual(30);
    expect(wc.ledger.flops).toBeLessThanOrEqual(budget);
    expect(wc.ledger.requests).toBe(server.stats.perModel.weak.served - result.sampling.se.ledger.requests);
    expect(result.verify.wc.samples).toBe(questions * wc.samplesPerQuestion);
    const childId = result.childWorkflowIds.find((id) => id.includes('/sample-wc'))!;
    const description = await client.workflow.getHandle(childId).describe();
    const firstRunId = description.raw.workflowExecutionInfo?.firstRunId;
    expect(firstRunId).toMatch(/^[0-9a-f-]{36}$/);
    expect(description.runId).not.toBe(firstRunId);
  });

  it('price mode: dollars from prompt and completion usage never pass the budget', async () => {
    const { client, worker } = temporal;
    const questions = 5;
    const { dir, problemsFile, server } = await weakOnlyStudy('budget-price', questions, 20);
    const price = { inputPerMillion: 100, outputPerMillion: 400 };
    const usd = 0.5;
    const config = testConfig({
      problems: problemsBlock(problemsFile),
      models: {
        wc: model(server.baseURL, 'weak', 1e9, { price, sampling: { maxTokens: 32 } }),
        se: model(server.baseURL, 'weak', 3e9, {
          price: { inputPerMillion: 300, outputPerMillion: 1200 },
          sampling: { maxTokens: 32 },
        }),
      },
      budget: { mode: 'price', usdPerSource: usd },
    });
    const result = await runExperiment(client, worker.taskQueue, { runDir: path.join(dir, 'run'), config });
    for (const source of ['wc', 'se'] as const) {
      const { ledger } = result.sampling[source];
      const rates = config.models[source].price!;
      expect(ledger.usd).toBeCloseTo(
        (ledger.promptTokens * rates.inputPerMillion + ledger.completionTokens * rates.outputPerMillion) /
          1e6,
        12,
      );
      expect(ledger.usd).toBeLessThanOrEqual(usd);
      expect(result.sampling[source].stopReason).toMatch(/price budget/);
    }
    // Three times the price buys about a third of the samples.
    expect(result.sampling.se.samplesPerQuestion).toBeGreaterThan(0);
    expect(result.sampling.wc.samplesPerQuestion).toBeGreaterThanOrEqual(
      2 * result.sampling.se.samplesPerQuestion,
    );
  });
});
