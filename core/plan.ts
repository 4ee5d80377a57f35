// The compute-matched plan (Bansal et al. 2024): at equal FLOPs, S_WC = S_SE * P_SE / P_WC.
import {
  DEFAULT_ROUNDS_PER_ACTIVITY,
  type BudgetConfig,
  type ExperimentConfig,
  type ModelConfig,
  type Source,
} from './config.js';
import { warmupPlanNote } from './warmup.js';

export interface PromptTokenStats {
  /** Sum over questions of the estimated prompt tokens of one request. */
  expectedPerRequestSum: number;
  /** Sum over questions of an upper bound on the prompt tokens of one request. */
  upperBoundPerRequestSum: number;
  /** The largest of those per-question upper bounds (the sum bounds it where this is missing). */
  upperBoundPerRequestMax?: number;
}

export interface PlanInputs {
  questions: number;
  promptTokens: Record<Source, PromptTokenStats>;
}

export interface SourcePlan {
  source: Source;
  model: string;
  params: number;
  /** Samples per question the plan expects every question to get (full rounds). */
  samplesPerQuestion: number;
  /**
   * Samples the plan expects the top-up to draw after the last full round (flops/price modes): one
   * sample each for a seeded subset of questions, sized so its worst case fits what is left. 0 in ratio mode.
   */
  expectedTopUpSamples?: number;
  /** Samples per question that fit even if every sample used max_tokens (flops/price modes). */
  guaranteedSamplesPerQuestion: number;
  samplesPerRound: number;
  /** Rounds to run (ratio mode) or at most (flops/price modes, further limited by the budget). */
  maxRounds: number;
  expectedTokens: number;
  expectedPromptTokens: number;
  expectedFlops: number;
  expectedCostUsd: number | null;
  budgetFlops: number | null;
  budgetUsd: number | null;
  // expectedTopUpSamples and the fields below are absent from plans recorded before equal spend.
  /** Expected spend in the budget's unit (FLOPs in ratio and flops modes, dollars in price mode). */
  expectedSpend?: number;
  /** An upper bound on one request's prompt tokens for any question: the top-up's worst case per sample. */
  promptTokensUpperBoundMax?: number;
}

export interface Plan {
  mode: BudgetConfig['mode'];
  questions: number;
  /** P_SE / P_WC: how many WC samples one SE sample buys. */
  costRatio: number;
  countPromptTokens: boolean;
  wc: SourcePlan;
  se: SourcePlan;
  // The fields below are absent from plans recorded before equal spend (plan.json of older runs).
  /** The unit both sources are matched in: FLOPs (ratio, flops modes) or USD (price mode). */
  spendUnit?: SpendUnit;
  /** Expected spend WC / SE in that unit: 1 is exactly matched. */
  expectedSpentRatio?: number;
  notes: string[];
  /** What makes the plan differ from an exact match: rounded sample counts, an expected spend gap. */
  warnings?: string[];
}

export type SpendUnit = 'FLOPs' | 'USD';

/** How far the two sources' spends may differ before the plan and the report warn: 2%. */
export const SPENT_RATIO_TOLERANCE = 0.02;

/** WC spend / SE spend, or null where SE spent nothing. */
export function spentRatio(wc: number, se: number): number | null {
  return se > 0 ? wc / se : null;
}

/** A warning when the two spends differ by more than the tolerance, else null. */
export function spentRatioWarning(ratio: number | null, unit: SpendUnit, what: string): string | null {
  if (ratio === null || Math.abs(ratio - 1) <= SPENT_RATIO_TOLERANCE) return null;
  const percent = (Math.abs(ratio - 1) * 100).toFixed(1);
  return (
    `${what} ${unit} WC / SE = ${ratio.toFixed(4)}: WC ${ratio > 1 ? 'over' : 'under'}-spends SE by ${percent}%, ` +
    `more than the ${SPENT_RATIO_TOLERANCE * 100}% the comparison allows`
  );
}

export class PlanError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PlanError';
  }
}

/** FLOPs of generating `tokens` tokens with a model of `params` parameters: 2P per token. */
export function flopsFor(params: number, tokens: number): number {
  return 2 * params * tokens;
}

export function usdFor(
  model: ModelConfig,
  usage: { promptTokens: number; completionTokens: number },
): number {
  if (!model.price) return 0;
  return (
    (usage.promptTokens * model.price.inputPerMillion +
      usage.completionTokens * model.price.outputPerMillion) /
    1e6
  );
}

/** Requests needed for `samples` samples of one question. */
export function requestsFor(model: ModelConfig, samples: number): number {
  return model.supportsN ? Math.ceil(samples / model.maxN) : samples;
}

/**
 * The most one round can cost if every sample runs to max_tokens: a round starts only if this fits in
 * what is left of the budget, so a budget is never overspent.
 */
export function worstCaseRoundCost(args: {
  model: ModelConfig;
  questions: number;
  samplesPerRound: number;
  /** Prompt tokens of the whole round: an upper bound, or what an earlier identical round really cost. */
  roundPromptTokens: number;
  countPromptTokens: boolean;
}): { flops: number; usd: number } {
  const { model, questions, samplesPerRound } = args;
  const completionTokens = questions * samplesPerRound * model.sampling.maxTokens;
  const promptTokens = args.roundPromptTokens;
  return {
    flops: flopsFor(model.params, completionTokens + (args.countPromptTokens ? promptTokens : 0)),
    usd: usdFor(model, { promptTokens, completionTokens }),
  };
}

export function planComputeMatched(config: ExperimentConfig, inputs: PlanInputs): Plan {
  const { budget } = config;
  const { wc, se } = config.models;
  const n = inputs.questions;
  if (n < 1) throw new PlanError('problems: the problem set is empty');
  const notes: string[] = [];
  const warnings: string[] = [];
  const costRatio = se.params / wc.params;
  const spendUnit: SpendUnit = budget.mode === 'price' ? 'USD' : 'FLOPs';
  const tokensPerSample = (model: ModelConfig) => budget.expectedTokensPerSample ?? model.sampling.maxTokens;
  if (budget.expectedTokensPerSample === undefined) {
    notes.push('Expected tokens assume every sample uses max_tokens (set budget.expectedTokensPerSample).');
  }
  const warmupNote = warmupPlanNote(config);
  if (warmupNote) notes.push(warmupNote);
  const promptMax = (source: Source) =>
    inputs.promptTokens[source].upperBoundPerRequestMax ??
    inputs.promptTokens[source].upperBoundPerRequestSum;

  const sourcePlan = (
    source: Source,
    model: ModelConfig,
    samples: number,
    guaranteed: number,
    rounds: number,
    topUpSamples = 0,
  ) => {
    const perRound = budget.mode === 'ratio' ? samples : budget.samplesPerRound;
    const expectedTokens = (n * samples + topUpSamples) * tokensPerSample(model);
    // A top-up sample is one request for one question: on average a question's expected prompt.
    const requests = rounds * requestsFor(model, perRound);
    const expectedPromptTokens =
      requests * inputs.promptTokens[source].expectedPerRequestSum +
      (topUpSamples * inputs.promptTokens[source].expectedPerRequestSum) / n;
    const flopsTokens = expectedTokens + (budget.countPromptTokens ? expectedPromptTokens : 0);
    const expectedFlops = flopsFor(model.params, flopsTokens);
    const expectedCostUsd = model.price
      ? usdFor(model, { promptTokens: expectedPromptTokens, completionTokens: expectedTokens })
      : null;
    const plan: SourcePlan = {
      source,
      model: model.model,
      params: model.params,
      samplesPerQuestion: samples,
      expectedTopUpSamples: topUpSamples,
      guaranteedSamplesPerQuestion: guaranteed,
      samplesPerRound: perRound,
      maxRounds: rounds,
      expectedTokens,
      expectedPromptTokens,
      expectedFlops,
      expectedCostUsd,
      budgetFlops: budget.mode === 'flops' ? budget.flopsPerSource : null,
      budgetUsd: budget.mode === 'price' ? budget.usdPerSource : null,
      expectedSpend: spendUnit === 'USD' ? (expectedCostUsd ?? 0) : expectedFlops,
      promptTokensUpperBoundMax: promptMax(source),
    };
    return plan;
  };

  const finish = (wcPlan: SourcePlan, sePlan: SourcePlan): Plan => {
    const expectedSpentRatio = spentRatio(wcPlan.expectedSpend ?? 0, sePlan.expectedSpend ?? 0) ?? 1;
    const gap = spentRatioWarning(expectedSpentRatio, spendUnit, 'Expected spend');
    if (gap) {
      warnings.push(
        `${gap}: one sample's worst case is a large part of the budget here; ` +
          'raise the budget or use more questions.',
      );
    }
    return {
      mode: budget.mode,
      questions: n,
      costRatio,
      countPromptTokens: budget.countPromptTokens,
      wc: wcPlan,
      se: sePlan,
      spendUnit,
      expectedSpentRatio,
      notes,
      warnings,
    };
  };

  if (budget.mode === 'ratio') {
    const exact = budget.samplesPerQuestion * costRatio;
    const wcSamples = Math[budget.rounding](exact);
    if (wcSamples < 1) {
      throw new PlanError(
        `budget.samplesPerQuestion: ${budget.samplesPerQuestion} SE samples buy ${exact.toFixed(3)} WC samples ` +
          `per question (P_SE/P_WC = ${costRatio.toPrecision(4)}); with rounding "${budget.rounding}" that is 0`,
      );
    }
    if (exact !== wcSamples) {
      notes.push(
        `S_WC = ${budget.samplesPerQuestion} x ${costRatio.toPrecision(6)} = ${exact.toFixed(3)}, ` +
          `rounded by "${budget.rounding}" to ${wcSamples}` +
          (budget.rounding === 'floor' ? ' (WC never spends more than SE).' : '.'),
      );
      warnings.push(roundingWarning(budget.samplesPerQuestion, costRatio, exact, wcSamples, budget.rounding));
    }
    return finish(
      sourcePlan('wc', wc, wcSamples, wcSamples, 1),
      sourcePlan('se', se, budget.samplesPerQuestion, budget.samplesPerQuestion, 1),
    );
  }

  const budgetedPlan = (source: Source, model: ModelConfig) => {
    const perRound = budget.samplesPerRound;
    const worst = worstCaseRoundCost({
      model,
      questions: n,
      samplesPerRound: perRound,
      roundPromptTokens: requestsFor(model, perRound) * inputs.promptTokens[source].upperBoundPerRequestSum,
      countPromptTokens: budget.countPromptTokens,
    });
    // One top-up sample: one request for one question, at max_tokens and the largest prompt.
    const worstSample = worstCaseRoundCost({
      model,
      questions: 1,
      samplesPerRound: 1,
      roundPromptTokens: promptMax(source),
      countPromptTokens: budget.countPromptTokens,
    });
    const requestsPerRound = requestsFor(model, perRound);
    const expectedPrompt = requestsPerRound * inputs.promptTokens[source].expectedPerRequestSum;
    const expectedCompletion = n * perRound * tokensPerSample(model);
    const expectedSamplePrompt = inputs.promptTokens[source].expectedPerRequestSum / n;
    let limit: number;
    let worstRound: number;
    let expectedRound: number;
    let worstOne: number;
    let expectedOne: number;
    let unit: string;
    if (budget.mode === 'flops') {
      limit = budget.flopsPerSource;
      worstRound = worst.flops;
      worstOne = worstSample.flops;
      const countPrompt = budget.countPromptTokens ? 1 : 0;
      expectedRound = flopsFor(model.params, expectedCompletion + countPrompt * expectedPrompt);
      expectedOne = flopsFor(model.params, tokensPerSample(model) + countPrompt * expectedSamplePrompt);
      unit = 'FLOPs';
    } else {
      if (!model.price) throw new PlanError(`models.${source}.price: required in price mode`);
      limit = budget.usdPerSource;
      worstRound = worst.usd;
      worstOne = worstSample.usd;
      expectedRound = usdFor(model, { promptTokens: expectedPrompt, completionTokens: expectedCompletion });
      expectedOne = usdFor(model, {
        promptTokens: expectedSamplePrompt,
        completionTokens: tokensPerSample(model),
      });
      unit = 'USD';
    }
    const guaranteedRounds = Math.floor(limit / worstRound);
    if (guaranteedRounds < 1) {
      const field = budget.mode === 'flops' ? 'budget.flopsPerSource' : 'budget.usdPerSource';
      throw new PlanError(
        `${field}: ${formatAmount(limit, unit)} cannot buy one round for ${source} (${model.model}): ` +
          `${perRound} sample(s) per question for ${n} questions can cost up to ${formatAmount(worstRound, unit)} ` +
          `(max_tokens ${model.sampling.maxTokens}, ${model.params.toExponential(2)} params). ` +
          'Raise the budget, lower max_tokens or use fewer questions.',
      );
    }
    // Rounds keep starting while their worst case fits, so the count reached lies between these two.
    const expectedRounds = Math.max(guaranteedRounds, Math.floor((limit - worstRound) / expectedRound) + 1);
    // Then top-up samples keep starting while one more sample's worst case fits.
    const left = limit - expectedRounds * expectedRound;
    const topUp = left >= worstOne ? Math.floor((left - worstOne) / expectedOne) + 1 : 0;
    return sourcePlan(
      source,
      model,
      expectedRounds * perRound,
      guaranteedRounds * perRound,
      expectedRounds,
      topUp,
    );
  };

  notes.push(
    `Rounds of ${budget.samplesPerRound} sample(s) per question start only while the round's worst case ` +
      '(every sample at max_tokens) fits in the remaining budget; then a top-up draws one more sample for ' +
      "questions in a seeded order while one sample's worst case still fits, so both sources end within " +
      "one sample's worst case of their budget and spending never passes it. Coverage and diversity curves " +
      "run to the samples every question got; each question's estimate uses all of its own samples.",
  );
  const roundsPerActivity = config.sampling.roundsPerActivity ?? DEFAULT_ROUNDS_PER_ACTIVITY;
  if (roundsPerActivity > 1) {
    notes.push(
      `One sampling activity draws up to ${roundsPerActivity} rounds of its batch (sampling.roundsPerActivity), ` +
        'in requests of up to maxN samples where the endpoint takes n, while the worst case of all of them ' +
        'fits: the same rounds and budget checks, about that many times fewer activities.',
    );
  }
  return finish(budgetedPlan('wc', wc), budgetedPlan('se', se));
}

/** Says how rounding moved S_WC from the exact compute-matched value, and what that does to the match. */
function roundingWarning(
  seSamples: number,
  costRatio: number,
  exact: number,
  rounded: number,
  rounding: string,
): string {
  const others = (['floor', 'round', 'ceil'] as const)
    .filter((mode) => mode !== rounding && Math[mode](exact) !== rounded)
    .map((mode) => `"${mode}" gives ${Math[mode](exact)}`);
  const percent = ((Math.abs(rounded - exact) / exact) * 100).toFixed(1);
  return (
    `S_WC is rounded: the exact compute-matched value is ${seSamples} x ${costRatio.toPrecision(6)} = ` +
    `${exact.toFixed(3)}, rounding "${rounding}" gives ${rounded}` +
    (others.length ? ` (${others.join(', ')})` : '') +
    `, so WC gets ${percent}% ${rounded < exact ? 'less' : 'more'} sampling compute than SE. ` +
    "Nominal parameter counts (e.g. 9e9 and 27e9) give the paper's whole ratios."
  );
}

function formatAmount(value: number, unit: string): string {
  return unit === 'USD' ? `$${value.toFixed(4)}` : `${value.toExponential(3)} ${unit}`;
}

/** Totals over both sources above which `wcse run` needs `--yes` (config `confirmAbove` overrides each). */
export const DEFAULT_CONFIRM_ABOVE = { samples: 1_000_000, flops: 1e20, usd: 100 } as const;

/**
 * Why this plan needs an explicit `--yes` before it starts: each total (samples, FLOPs, dollars, over both
 * sources) above its threshold, as a sentence naming the config field that sets it. Empty when none is.
 * A budgeted mode counts its budget (what it may spend), ratio mode its expected spend.
 */
export function confirmationReasons(
  plan: Plan,
  thresholds: { samples?: number; flops?: number; usd?: number } = {},
): string[] {
  const limit = { ...DEFAULT_CONFIRM_ABOVE, ...thresholds };
  const sources = [plan.wc, plan.se];
  const samples = sources.reduce(
    (sum, p) => sum + plan.questions * p.samplesPerQuestion + (p.expectedTopUpSamples ?? 0),
    0,
  );
  const flops = sources.reduce((sum, p) => sum + Math.max(p.expectedFlops, p.budgetFlops ?? 0), 0);
  const usd = sources.reduce((sum, p) => sum + Math.max(p.expectedCostUsd ?? 0, p.budgetUsd ?? 0), 0);
  const reasons: string[] = [];
  if (samples > limit.samples) {
    reasons.push(
      `${samples.toExponential(3)} samples planned, above confirmAbove.samples = ${limit.samples.toExponential(3)}`,
    );
  }
  if (flops > limit.flops) {
    reasons.push(
      `${flops.toExponential(3)} FLOPs planned, above confirmAbove.flops = ${limit.flops.toExponential(3)}`,
    );
  }
  if (usd > limit.usd) {
    reasons.push(`$${usd.toFixed(2)} planned, above confirmAbove.usd = $${limit.usd.toFixed(2)}`);
  }
  return reasons;
}
