import { describe, expect, it } from 'vitest';
import { validateConfig, type ExperimentConfig } from '../core/config.js';
import { formatPlan } from '../cli/plan.js';
import { planComputeMatched, PlanError, type PlanInputs, type SourcePlan } from '../core/plan.js';

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

describe('plan warnings', () => {
  it("names the exact S_WC and the rounding mode when rounding moves the paper's 30 to 29", () => {
    // Exact parameter counts of Gemma2-9B and -27B: 10 x 27.2e9 / 9.24e9 = 29.437.
    const exact = config(
      { mode: 'ratio', samplesPerQuestion: 10 },
      {
        wc: { model: 'gemma2-9b', baseURL: 'http://x/v1', params: 9.24e9 },
        se: { model: 'gemma2-27b', baseURL: 'http://x/v1', params: 27.2e9 },
      },
    );
    const plan = planComputeMatched(exact, inputs(10));
    expect(plan.wc.samplesPerQuestion).toBe(29);
    expect(plan.warnings).toHaveLength(1);
    expect(plan.warnings![0]).toBe(
      'S_WC is rounded: the exact compute-matched value is 10 x 2.94372 = 29.437, rounding "floor" gives 29 ' +
        '("ceil" gives 30), so WC gets 1.5% less sampling compute than SE. Nominal parameter counts (e.g. 9e9 ' +
        "and 27e9) give the paper's whole ratios.",
    );
    expect(formatPlan(plan)).toContain(`warning: ${plan.warnings![0]}`);
    const ceil = planComputeMatched(
      { ...exact, budget: { ...exact.budget, rounding: 'ceil' } as never },
      inputs(10),
    );
    expect(ceil.wc.samplesPerQuestion).toBe(30);
    expect(ceil.warnings![0]).toMatch(
      /29\.437, rounding "ceil" gives 30 \("floor" gives 29, "round" gives 29\)/,
    );
    expect(ceil.warnings![0]).toMatch(/1\.9% more sampling compute/);
  });

  it('says nothing when the ratio is whole', () => {
    const plan = planComputeMatched(config({ mode: 'ratio', samplesPerQuestion: 10 }), inputs(10));
    expect(plan.warnings).toEqual([]);
    expect(formatPlan(plan)).not.toMatch(/warning/);
    expect(plan.expectedSpentRatio).toBe(1);
  });
});

describe('equal spend in the plan', () => {
  const withMax = (questions: number): PlanInputs => {
    const base = inputs(questions);
    return {
      ...base,
      promptTokens: {
        wc: { ...base.promptTokens.wc, upperBoundPerRequestMax: 200 },
        se: { ...base.promptTokens.se, upperBoundPerRequestMax: 200 },
      },
    };
  };

  it('plans a top-up that brings both sources within 2% of each other, inside the budget', () => {
    // Like examples/math.yaml: outputs ~58% of max_tokens; full rounds alone would spend WC 93%, SE 85%.
    const budget = 4.75 * 2 * 27e9 * 100 * 40;
    const plan = planComputeMatched(
      config({ mode: 'flops', flopsPerSource: budget, expectedTokensPerSample: 58 }),
      withMax(40),
    );
    const fullRounds = (p: SourcePlan) => (2 * p.params * 40 * p.samplesPerQuestion * 58) / budget;
    expect(fullRounds(plan.wc) - fullRounds(plan.se)).toBeGreaterThan(0.07);
    for (const p of [plan.wc, plan.se]) {
      expect(p.expectedTopUpSamples).toBeGreaterThan(0);
      expect(p.expectedSpend).toBe(p.expectedFlops);
      expect(p.expectedFlops).toBeLessThanOrEqual(budget);
      expect(p.promptTokensUpperBoundMax).toBe(200);
      // Within one sample's worst case (2 x params x max_tokens) of the budget.
      expect(budget - p.expectedFlops).toBeLessThan(2 * p.params * 100);
    }
    expect(plan.spendUnit).toBe('FLOPs');
    expect(Math.abs(plan.expectedSpentRatio! - 1)).toBeLessThanOrEqual(0.02);
    expect(plan.warnings).toEqual([]);
    expect(formatPlan(plan)).toContain(
      `expected spend WC / SE = ${plan.expectedSpentRatio!.toFixed(4)} (FLOPs)`,
    );
  });

  it('matches dollars in price mode', () => {
    const plan = planComputeMatched(config({ mode: 'price', usdPerSource: 0.5 }), withMax(40));
    expect(plan.spendUnit).toBe('USD');
    expect(plan.se.expectedSpend).toBe(plan.se.expectedCostUsd);
    expect(plan.se.expectedCostUsd).toBeLessThanOrEqual(0.5);
    expect(Math.abs(plan.expectedSpentRatio! - 1)).toBeLessThanOrEqual(0.02);
  });

  it('warns when one sample is too large a part of the budget to match within 2%', () => {
    // One question: a top-up sample costs as much as a round, so SE stops at 42% and WC at 83%.
    const plan = planComputeMatched(
      config({ mode: 'flops', flopsPerSource: 1.2 * 2 * 27e9 * 100, expectedTokensPerSample: 50 }),
      withMax(1),
    );
    expect(plan.expectedSpentRatio).toBeCloseTo(2, 6);
    expect(plan.warnings).toEqual([
      'Expected spend FLOPs WC / SE = 2.0000: WC over-spends SE by 100.0%, more than the 2% the comparison ' +
        "allows: one sample's worst case is a large part of the budget here; raise the budget or use more questions.",
    ]);
  });
});
