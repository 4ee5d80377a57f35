import { describe, expect, it } from 'vitest';
import { validateConfig, type ExperimentConfig } from '../core/config.js';
import { planComputeMatched, PlanError, type PlanInputs } from '../core/plan.js';

const inputs = (questions: number, promptTokens = 100): PlanInputs => ({
  questions,
  promptTokens: {
    wc: {
      expectedPerRequestSum: promptTokens * questions,
      upperBoundPerRequestSum: 2 * promptTokens * questions,
    },
    se: {
      expectedPerRequestSum: promptTokens * questions,
      upperBoundPerRequestSum: 2 * promptTokens * questions,
    },
  },
});

function config(budget: Record<string, unknown>, models: Record<string, unknown> = {}): ExperimentConfig {
  const model = (name: string, params: number) => ({
    model: name,
    baseURL: 'http://127.0.0.1:1/v1',
    params,
    sampling: { maxTokens: 100 },
    price: { inputPerMillion: 1, outputPerMillion: 2 },
  });
  return validateConfig(
    {
      name: 'plan-test',
      problems: { path: 'x.jsonl', kind: 'gsm8k' },
      models: { wc: model('gemma-9b', 9e9), se: model('gemma-27b', 27e9), ...models },
      budget,
    },
    'plan-test.yaml',
  );
}

describe('ratio mode', () => {
  it('plans 30 WC samples for 10 SE samples at 27B vs 9B', () => {
    const plan = planComputeMatched(config({ mode: 'ratio', samplesPerQuestion: 10 }), inputs(50));
    expect(plan.se.samplesPerQuestion).toBe(10);
    expect(plan.wc.samplesPerQuestion).toBe(30);
    expect(plan.costRatio).toBe(3);
    // W = max_tokens when no estimate is given: n * S * W tokens, 2PT FLOPs.
    expect(plan.wc.expectedTokens).toBe(50 * 30 * 100);
    expect(plan.wc.expectedFlops).toBe(2 * 9e9 * 50 * 30 * 100);
    expect(plan.se.expectedFlops).toBe(2 * 27e9 * 50 * 10 * 100);
    expect(plan.wc.expectedFlops).toBe(plan.se.expectedFlops);
    expect(plan.wc.expectedCostUsd).not.toBeNull();
  });

  it('rounds a fractional ratio down by default and says so', () => {
    const cfg = config(
      { mode: 'ratio', samplesPerQuestion: 3 },
      { wc: { model: 'a', baseURL: 'http://x/v1', params: '7B' } },
    );
    const plan = planComputeMatched(cfg, inputs(10));
    expect(plan.wc.samplesPerQuestion).toBe(11); // 3 * 27/7 = 11.57
    expect(plan.notes.join(' ')).toMatch(/11\.571.*floor.*11/);
    const ceil = planComputeMatched(
      { ...cfg, budget: { ...cfg.budget, rounding: 'ceil' } as never },
      inputs(10),
    );
    expect(ceil.wc.samplesPerQuestion).toBe(12);
  });

  it('counts prompt tokens in FLOPs only when asked', () => {
    const off = planComputeMatched(config({ mode: 'ratio', samplesPerQuestion: 1 }), inputs(10));
    const on = planComputeMatched(
      config({ mode: 'ratio', samplesPerQuestion: 1, countPromptTokens: true }),
      inputs(10),
    );
    expect(on.se.expectedFlops - off.se.expectedFlops).toBe(2 * 27e9 * 100 * 10);
  });
});

describe('flops mode', () => {
  it('plans rounds whose worst case fits the budget', () => {
    // One round for SE: 10 questions x 100 max tokens x 2 x 27e9 = 5.4e13 FLOPs.
    const plan = planComputeMatched(config({ mode: 'flops', flopsPerSource: 5.4e14 }), inputs(10));
    expect(plan.se.guaranteedSamplesPerQuestion).toBe(10);
    expect(plan.wc.guaranteedSamplesPerQuestion).toBe(30);
    expect(plan.se.budgetFlops).toBe(5.4e14);
    expect(plan.se.expectedFlops).toBeLessThanOrEqual(5.4e14);
  });

  it('expects more samples when outputs are shorter than max_tokens', () => {
    const plan = planComputeMatched(
      config({ mode: 'flops', flopsPerSource: 5.4e14, expectedTokensPerSample: 50 }),
      inputs(10),
    );
    expect(plan.se.guaranteedSamplesPerQuestion).toBe(10);
    expect(plan.se.samplesPerQuestion).toBe(19); // rounds continue while the worst case (2 expected rounds) fits
  });

  it('refuses a budget that cannot buy one sample per question', () => {
    expect(() => planComputeMatched(config({ mode: 'flops', flopsPerSource: 1e13 }), inputs(10))).toThrow(
      PlanError,
    );
    expect(() => planComputeMatched(config({ mode: 'flops', flopsPerSource: 1e13 }), inputs(10))).toThrow(
      /budget\.flopsPerSource: 1\.000e\+13 FLOPs cannot buy one round for wc/,
    );
  });
});

describe('price mode', () => {
  it('buys rounds in dollars, prompt tokens included', () => {
    // SE round worst case: 10 x 100 completion x $2/M + 2000 prompt upper bound x $1/M = $0.004.
    const plan = planComputeMatched(config({ mode: 'price', usdPerSource: 0.04 }), inputs(10));
    expect(plan.se.guaranteedSamplesPerQuestion).toBe(10);
    expect(plan.wc.guaranteedSamplesPerQuestion).toBe(10); // same prices: price mode is not parameter-matched
    expect(plan.se.budgetUsd).toBe(0.04);
  });

  it('needs prices and a budget of at least one round', () => {
    expect(() => planComputeMatched(config({ mode: 'price', usdPerSource: 0.001 }), inputs(10))).toThrow(
      /budget\.usdPerSource: \$0\.0010 cannot buy one round/,
    );
    const noPrice = config(
      { mode: 'price', usdPerSource: 1 },
      { se: { model: 's', baseURL: 'http://x/v1', params: 1e9 } },
    );
    expect(() => planComputeMatched(noPrice, inputs(10))).toThrow(
      /models\.se\.price: required in price mode/,
    );
  });
});
