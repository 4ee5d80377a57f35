// The flops budget: spending never passes it, and sampling stops within one sample's worst case of it
// (full rounds, then the top-up; test/equal-spend.test.ts checks that WC and SE end up spending alike).
import { describe, expect, it } from 'vitest';
import { model, runStudy, useTemporal, wcSeModels, weakAndStrong, weakOnly } from './support/harness.js';
import { worstCaseRoundCost } from '../core/plan.js';

process.env.WCSE_TEST_API_KEY = 'sk-test-budget';

describe('flops budget', () => {
  const temporal = useTemporal('budget');

  it("spends at most the budget and stops within one sample's worst case of it", async () => {
    const questions = 10;
    const budget = 2 * 1e9 * 40 * questions * 7.5; // 7.5 worst-case rounds of one sample at 1e9 params
    // Completions of ~36 tokens against max_tokens 40: the worst case is close to the real cost.
    const { config, result } = await runStudy(
      temporal,
      { name: 'budget', questions, models: weakAndStrong({ reasoningWords: 30 }, { correctFraction: 0.8 }) },
      ({ server }) => ({
        models: wcSeModels(server.baseURL, { wc: 1e9, se: 3e9 }, { sampling: { maxTokens: 40 } }),
        budget: { mode: 'flops', flopsPerSource: budget, samplesPerRound: 1 },
        sampling: { batchSize: 5 },
      }),
    );
    for (const source of ['wc', 'se'] as const) {
      const { ledger, samplesPerQuestion } = result.sampling[source];
      const worstSample = worstCaseRoundCost({
        model: config.models[source],
        questions: 1,
        samplesPerRound: 1,
        roundPromptTokens: 0,
        countPromptTokens: false,
      }).flops;
      expect(ledger.flops).toBeLessThanOrEqual(budget);
      expect(budget - ledger.flops).toBeLessThan(worstSample);
      expect(ledger.flops).toBe(2 * config.models[source].params * ledger.completionTokens);
      expect(samplesPerQuestion).toBeGreaterThan(0);
      // Full rounds give every question S samples; the top-up gives some of them one more.
      expect(ledger.samples - questions * samplesPerQuestion).toBe(
        (result.sampling[source].topUpSamples ?? 0) % questions,
      );
      expect(result.verify[source].samples).toBe(ledger.samples);
    }
    // WC (1e9) buys three times the rounds of SE (3e9) at the same budget.
    expect(result.sampling.wc.samplesPerQuestion).toBeGreaterThanOrEqual(
      3 * result.sampling.se.samplesPerQuestion - 1,
    );
    expect(result.sampling.se.stopReason).toMatch(/FLOPs budget/);
  });

  it('continues as new in a long sampling loop without losing count or budget', async () => {
    const questions = 4;
    // 30 worst-case rounds of 2 batches: ~60 activities, far past the test server's continue-as-new
    // suggestion at 200 history events.
    const budget = 2 * 1e9 * 12 * questions * 30;
    const { study, result } = await runStudy(
      temporal,
      { name: 'budget-can', questions, models: weakOnly({ reasoningWords: 5 }) },
      ({ server }) => ({
        models: wcSeModels(server.baseURL, { wc: 1e9, se: 20e9 }, { sampling: { maxTokens: 12 } }, 'weak'),
        budget: { mode: 'flops', flopsPerSource: budget },
        // One round per activity: the loop stays long enough to continue as new.
        sampling: { batchSize: 2, roundsPerActivity: 1 },
      }),
    );
    const { server } = study;
    const wc = result.sampling.wc;
    expect(wc.samplesPerQuestion).toBeGreaterThanOrEqual(30);
    expect(wc.ledger.flops).toBeLessThanOrEqual(budget);
    expect(wc.ledger.requests).toBe(server.stats.perModel.weak.served - result.sampling.se.ledger.requests);
    expect(result.verify.wc.samples).toBe(wc.ledger.samples);
    const childId = result.childWorkflowIds.find((id) => id.includes('/sample-wc'))!;
    const description = await temporal.client.workflow.getHandle(childId).describe();
    const firstRunId = description.raw.workflowExecutionInfo?.firstRunId;
    expect(firstRunId).toMatch(/^[0-9a-f-]{36}$/);
    expect(description.runId).not.toBe(firstRunId);
  });

  it('price mode: dollars from prompt and completion usage never pass the budget', async () => {
    const price = { inputPerMillion: 100, outputPerMillion: 400 };
    const usd = 0.5;
    const { config, result } = await runStudy(
      temporal,
      { name: 'budget-price', questions: 5, models: weakOnly({ reasoningWords: 20 }) },
      ({ server }) => ({
        models: {
          wc: model(server.baseURL, 'weak', 1e9, { price, sampling: { maxTokens: 32 } }),
          se: model(server.baseURL, 'weak', 3e9, {
            price: { inputPerMillion: 300, outputPerMillion: 1200 },
            sampling: { maxTokens: 32 },
          }),
        },
        budget: { mode: 'price', usdPerSource: usd },
      }),
    );
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
